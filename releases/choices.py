"""Enumerations of release management, with the allowed moves of each state machine beside them."""

from __future__ import annotations

from django.db import models


class ReleaseType(models.TextChoices):
    MAJOR = "major", "Major"
    MINOR = "minor", "Minor"
    EMERGENCY = "emergency", "Emergency"


class ReleasePriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ReleaseStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    BUILD = "build", "Build"
    ACCEPTANCE = "acceptance", "Acceptance"
    READINESS = "readiness", "Readiness review"
    DEPLOYING = "deploying", "Deploying"
    DEPLOYED = "deployed", "Deployed"
    BACKED_OUT = "backed_out", "Backed out"
    CLOSED = "closed", "Closed"


#: The moves of a release; one service per move (releases/services.py).
RELEASE_TRANSITIONS: dict[str, frozenset[str]] = {
    ReleaseStatus.PLANNING: frozenset({ReleaseStatus.BUILD, ReleaseStatus.CLOSED}),
    ReleaseStatus.BUILD: frozenset({ReleaseStatus.ACCEPTANCE, ReleaseStatus.PLANNING}),
    ReleaseStatus.ACCEPTANCE: frozenset({ReleaseStatus.READINESS, ReleaseStatus.BUILD}),
    ReleaseStatus.READINESS: frozenset({ReleaseStatus.DEPLOYING, ReleaseStatus.BUILD}),
    # Back to readiness when its deployment is cancelled or marked failed before it changed
    # any target (release_back_to_readiness).
    ReleaseStatus.DEPLOYING: frozenset(
        {ReleaseStatus.DEPLOYED, ReleaseStatus.BACKED_OUT, ReleaseStatus.READINESS}
    ),
    ReleaseStatus.DEPLOYED: frozenset({ReleaseStatus.BACKED_OUT, ReleaseStatus.CLOSED}),
    ReleaseStatus.BACKED_OUT: frozenset({ReleaseStatus.CLOSED}),
    ReleaseStatus.CLOSED: frozenset(),
}


class TestEnvironment(models.TextChoices):
    __test__ = False  # not a pytest class
    TEST = "test", "Test"
    PRODUCTION = "production", "Production"


class ReadinessDecision(models.TextChoices):
    PENDING = "", "Not decided"
    GO = "go", "Go"
    NO_GO = "no_go", "No go"


class GoNoGo(models.TextChoices):
    """The decision a Release Manager records (ReadinessDecision without "not decided")."""

    GO = "go", "Go"
    NO_GO = "no_go", "No go"


class StepPhase(models.TextChoices):
    INSTALL = "install", "Install"
    VERIFY = "verify", "Verify"
    BACKOUT = "backout", "Back out"


class StepModule(models.TextChoices):
    SHELL = "shell", "Shell command"
    INSTALL_PACKAGE = "install_package", "Install a package"
    REMOVE_PACKAGE = "remove_package", "Remove a package"
    COPY_FILE = "copy_file", "Copy a file"
    CHECK_SOFTWARE = "check_software", "Check installed software"
    SET_ATTRIBUTES = "set_attributes", "Set CI attributes"


class DeploymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    #: A wave under way was stopped by its deployment window or a change blackout: running
    #: steps finish, nothing new starts, and it resumes by itself when the window opens.
    OUTSIDE_WINDOW = "outside_window", "Outside its window"
    PAUSED = "paused", "Paused"
    HALTED = "halted", "Halted"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    BACKING_OUT = "backing_out", "Backing out"
    BACKED_OUT = "backed_out", "Backed out"


DS = DeploymentStatus
DEPLOYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    DS.PENDING: frozenset({DS.RUNNING, DS.CANCELLED}),
    DS.RUNNING: frozenset(
        {DS.PAUSED, DS.HALTED, DS.OUTSIDE_WINDOW, DS.SUCCEEDED, DS.CANCELLED, DS.BACKING_OUT}
    ),
    # Left by the engine alone when the window opens (or the blackout ends); a person may
    # pause it (then only a person resumes), cancel it or back it out.
    DS.OUTSIDE_WINDOW: frozenset(
        {DS.RUNNING, DS.PAUSED, DS.HALTED, DS.SUCCEEDED, DS.CANCELLED, DS.BACKING_OUT}
    ),
    # Failed only by a person ("mark failed", with a reason): the engine halts or pauses.
    DS.PAUSED: frozenset({DS.RUNNING, DS.CANCELLED, DS.FAILED, DS.BACKING_OUT}),
    DS.HALTED: frozenset({DS.RUNNING, DS.CANCELLED, DS.FAILED, DS.BACKING_OUT}),
    DS.SUCCEEDED: frozenset({DS.BACKING_OUT}),
    DS.FAILED: frozenset({DS.BACKING_OUT}),
    DS.CANCELLED: frozenset({DS.BACKING_OUT}),
    DS.BACKING_OUT: frozenset({DS.BACKED_OUT, DS.PAUSED}),
    DS.BACKED_OUT: frozenset(),
}

#: A deployment in one of these is under way: a second `deploy` answers 409.
DEPLOYMENT_ACTIVE = frozenset(
    {DS.PENDING, DS.RUNNING, DS.OUTSIDE_WINDOW, DS.PAUSED, DS.HALTED, DS.BACKING_OUT}
)
#: Steps are claimed only while the deployment is in one of these.
DEPLOYMENT_CLAIMING = frozenset({DS.RUNNING, DS.BACKING_OUT})
#: A person ends a deployment from these: cancel (any of them) or mark failed (halted, paused).
DEPLOYMENT_CANCELLABLE = frozenset(
    {DS.PENDING, DS.RUNNING, DS.OUTSIDE_WINDOW, DS.PAUSED, DS.HALTED}
)
DEPLOYMENT_FAILABLE = frozenset({DS.PAUSED, DS.HALTED})
#: Ended by a person: targets still under way settle by themselves (`engine.advance`).
DEPLOYMENT_ENDED = frozenset({DS.CANCELLED, DS.FAILED})


class WaveStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    #: Every target finished: baking (automatic gate) or waiting for a sign-off (manual gate).
    WAITING = "waiting", "Waiting on its gate"
    SUCCEEDED = "succeeded", "Succeeded"
    HALTED = "halted", "Halted"
    CANCELLED = "cancelled", "Cancelled"
    BACKED_OUT = "backed_out", "Backed out"


WS = WaveStatus
WAVE_TRANSITIONS: dict[str, frozenset[str]] = {
    WS.PENDING: frozenset({WS.RUNNING, WS.CANCELLED}),
    WS.RUNNING: frozenset({WS.WAITING, WS.HALTED, WS.CANCELLED, WS.BACKED_OUT}),
    WS.WAITING: frozenset({WS.SUCCEEDED, WS.HALTED, WS.RUNNING, WS.CANCELLED, WS.BACKED_OUT}),
    WS.SUCCEEDED: frozenset({WS.BACKED_OUT, WS.RUNNING}),
    WS.HALTED: frozenset({WS.RUNNING, WS.SUCCEEDED, WS.CANCELLED, WS.BACKED_OUT}),
    WS.CANCELLED: frozenset({WS.BACKED_OUT}),
    WS.BACKED_OUT: frozenset(),
}


class GateKind(models.TextChoices):
    MANUAL = "manual", "Sign-off by a person"
    AUTOMATIC = "automatic", "Automatic success criteria"


class TargetState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    LOST = "lost", "Lost (outcome unknown)"
    SKIPPED = "skipped", "Skipped"
    BACKING_OUT = "backing_out", "Backing out"
    BACKED_OUT = "backed_out", "Backed out"


TS = TargetState
TARGET_TRANSITIONS: dict[str, frozenset[str]] = {
    TS.PENDING: frozenset({TS.RUNNING, TS.SKIPPED}),
    TS.RUNNING: frozenset({TS.SUCCEEDED, TS.FAILED, TS.LOST, TS.SKIPPED}),
    TS.SUCCEEDED: frozenset({TS.BACKING_OUT}),
    TS.FAILED: frozenset({TS.RUNNING, TS.BACKING_OUT, TS.SKIPPED}),
    # Failed: the deployment ended (cancelled, failed) with its outcome unknown.
    TS.LOST: frozenset({TS.RUNNING, TS.FAILED, TS.BACKING_OUT, TS.SKIPPED}),
    TS.SKIPPED: frozenset({TS.BACKING_OUT}),
    TS.BACKING_OUT: frozenset({TS.BACKED_OUT, TS.FAILED, TS.LOST}),
    TS.BACKED_OUT: frozenset(),
}
#: A target in one of these has nothing left to run.
TARGET_FINISHED = frozenset({TS.SUCCEEDED, TS.FAILED, TS.SKIPPED, TS.BACKED_OUT})
#: A wave waits for its targets in these states (a partial index holds them; the order matters
#: only in that the query and the index condition are written alike).
TARGET_UNFINISHED = (TS.PENDING, TS.RUNNING, TS.BACKING_OUT)


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    CLAIMED = "claimed", "Claimed"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    LOST = "lost", "Lost (outcome unknown)"
    SKIPPED = "skipped", "Skipped"


SS = StepState
STEP_TRANSITIONS: dict[str, frozenset[str]] = {
    SS.PENDING: frozenset({SS.CLAIMED, SS.SKIPPED}),
    SS.CLAIMED: frozenset({SS.RUNNING, SS.SUCCEEDED, SS.FAILED, SS.SKIPPED, SS.LOST}),
    SS.RUNNING: frozenset({SS.SUCCEEDED, SS.FAILED, SS.SKIPPED, SS.LOST}),
    SS.SUCCEEDED: frozenset(),
    SS.FAILED: frozenset({SS.PENDING, SS.SKIPPED}),  # a person retries (attempt + 1)
    SS.LOST: frozenset({SS.PENDING, SS.SKIPPED}),  # retried (attempt + 1) or given up
    SS.SKIPPED: frozenset(),
}
STEP_DONE = frozenset({SS.SUCCEEDED, SS.SKIPPED})
