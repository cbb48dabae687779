"""The state of deployments, kept in the database (not in the queue): deployment → waves →
targets (one CI each) → steps. Every state column moves only through
`releases.engine.transitions.transition` (a conditional UPDATE on state and version, with its
`DeploymentEvent` row in the same transaction); timers (bake, leases) are columns read by
`advance`, never Celery countdowns."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ..choices import (
    TARGET_UNFINISHED,
    DeploymentStatus,
    GateKind,
    StepPhase,
    StepState,
    TargetState,
    WaveStatus,
)


class Deployment(models.Model):
    """One run of a release's package onto its targets, by one executor."""

    release = models.ForeignKey(
        "releases.Release", on_delete=models.CASCADE, related_name="deployments"
    )
    executor = models.CharField("executor", max_length=40)
    simulation = models.JSONField("simulation parameters", default=dict, blank=True)
    status = models.CharField(
        "status", max_length=20, choices=DeploymentStatus.choices, default=DeploymentStatus.PENDING
    )
    version = models.PositiveIntegerField("version", default=1)
    reason = models.TextField("reason of the last pause or halt", blank=True)
    window_start = models.DateTimeField("window start", null=True, blank=True)
    window_end = models.DateTimeField("window end", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField("created", auto_now_add=True)
    started_at = models.DateTimeField("started", null=True, blank=True)
    finished_at = models.DateTimeField("finished", null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeploymentStatus.values),
                name="releases_deployment_status_valid",
            )
        ]
        indexes = [models.Index(fields=["status"], name="releases_deployment_status")]

    def __str__(self) -> str:
        return f"Deployment {self.pk} of release {self.release_id}"


class DeploymentWave(models.Model):
    """A set of targets deployed together; the next wave starts when this one's gate opens."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="waves")
    order = models.PositiveIntegerField("order")
    name = models.CharField("name", max_length=100)
    selector = models.JSONField("selector", default=dict, blank=True)
    status = models.CharField(
        "status", max_length=20, choices=WaveStatus.choices, default=WaveStatus.PENDING
    )
    version = models.PositiveIntegerField("version", default=1)
    gate = models.CharField(
        "gate", max_length=20, choices=GateKind.choices, default=GateKind.MANUAL
    )
    min_success_pct = models.PositiveSmallIntegerField("minimum success %", default=100)
    bake_minutes = models.PositiveIntegerField("bake time (minutes)", default=0)
    max_new_incidents = models.PositiveIntegerField("maximum new incidents", default=0)
    started_at = models.DateTimeField("started", null=True, blank=True)
    finished_at = models.DateTimeField("targets finished", null=True, blank=True)
    bake_until = models.DateTimeField("bake until", null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    signed_off_at = models.DateTimeField("signed off", null=True, blank=True)
    reason = models.TextField("reason", blank=True)
    #: The Deployment Technician (or Release Manager) in charge of the wave's targets: he may
    #: retry or back them out; nobody assigned, any technician may.
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deployment_waves",
        verbose_name="technician",
    )

    class Meta:
        ordering = ["deployment", "order"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "order"], name="releases_wave_order"),
            models.CheckConstraint(
                condition=Q(status__in=WaveStatus.values), name="releases_wave_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(min_success_pct__lte=100), name="releases_wave_min_success_pct"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DeploymentTarget(models.Model):
    """One CI of a wave, with what the CMDB held before (for the backout) and what the release
    recorded after (for the verification against the next agent report)."""

    # No index of their own: the unique (deployment, ci) and the (wave, state) indexes lead
    # with them (one index fewer to write per move).
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="targets", db_index=False
    )
    wave = models.ForeignKey(
        DeploymentWave, on_delete=models.CASCADE, related_name="targets", db_index=False
    )
    ci = models.ForeignKey(
        "cmdb.ConfigurationItem", on_delete=models.PROTECT, related_name="deployment_targets"
    )
    state = models.CharField(
        "state", max_length=20, choices=TargetState.choices, default=TargetState.PENDING
    )
    version = models.PositiveIntegerField("version", default=1)
    prior_state = models.JSONField("state before", default=dict, blank=True)
    recorded_state = models.JSONField("state recorded by the release", default=dict, blank=True)
    started_at = models.DateTimeField("started", null=True, blank=True)
    finished_at = models.DateTimeField("finished", null=True, blank=True)
    #: Overrides the wave's technician for this one CI (e.g. a server at another site).
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deployment_targets",
        verbose_name="technician",
    )

    class Meta:
        ordering = ["wave", "id"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "ci"], name="releases_target_ci_once"),
            models.CheckConstraint(
                condition=Q(state__in=TargetState.values), name="releases_target_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["wave", "state"], name="releases_target_wave_state"),
            # "Is any target of this wave still to finish?", asked as each target finishes: the
            # planner, its statistics taken when the targets were all pending, would otherwise
            # scan the table for it (5 ms at 10,000 targets, bench/README.md).
            models.Index(
                fields=["wave"],
                condition=Q(state__in=TARGET_UNFINISHED),
                name="releases_target_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return f"target {self.pk} (CI {self.ci_id})"


class DeploymentStep(models.Model):
    """One step of one target: a copy of the package step, its state, its claim (lease owner,
    expiry, attempt number) and its log. A message for an attempt that is not the current one,
    or for a step no longer pending, claims nothing."""

    # Covered by the (deployment, state) and unique (target, order) indexes.
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="steps", db_index=False
    )
    target = models.ForeignKey(
        DeploymentTarget, on_delete=models.CASCADE, related_name="steps", db_index=False
    )
    order = models.PositiveIntegerField("order")
    name = models.CharField("name", max_length=200)
    phase = models.CharField("phase", max_length=10, choices=StepPhase.choices)
    module = models.CharField("module", max_length=30)
    params = models.JSONField("parameters", default=dict, blank=True)
    condition = models.JSONField("condition", default=dict, blank=True)
    success_test = models.JSONField("success test", default=dict, blank=True)
    artifact = models.ForeignKey(
        "releases.SoftwareArtifact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    idempotent = models.BooleanField("idempotent", default=True)
    state = models.CharField(
        "state", max_length=20, choices=StepState.choices, default=StepState.PENDING
    )
    version = models.PositiveIntegerField("version", default=1)
    attempt = models.PositiveIntegerField("attempt", default=1)
    lease_owner = models.CharField("lease owner", max_length=200, blank=True)
    lease_expires_at = models.DateTimeField("lease expires", null=True, blank=True)
    dispatched_at = models.DateTimeField("last dispatched", null=True, blank=True)
    started_at = models.DateTimeField("started", null=True, blank=True)
    finished_at = models.DateTimeField("finished", null=True, blank=True)
    log = models.TextField("log", blank=True)
    result = models.JSONField("result", default=dict, blank=True)

    class Meta:
        ordering = ["target", "order"]
        constraints = [
            models.UniqueConstraint(fields=["target", "order"], name="releases_step_order"),
            models.CheckConstraint(
                condition=Q(state__in=StepState.values), name="releases_step_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["deployment", "state"], name="releases_step_dep_state"),
            models.Index(fields=["state", "lease_expires_at"], name="releases_step_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (attempt {self.attempt})"


class DeploymentEvent(models.Model):
    """The event log of a deployment: each transition, written in its transaction."""

    deployment = models.ForeignKey(  # covered by the (deployment, id) index
        Deployment, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    at = models.DateTimeField("at")
    kind = models.CharField("kind", max_length=40)
    object_type = models.CharField("object", max_length=20)
    object_id = models.BigIntegerField("object id")
    from_state = models.CharField("from", max_length=20, blank=True)
    to_state = models.CharField("to", max_length=20, blank=True)
    message = models.TextField("message", blank=True)
    data = models.JSONField("data", default=dict, blank=True)

    class Meta:
        ordering = ["deployment", "id"]
        indexes = [models.Index(fields=["deployment", "id"], name="releases_event_dep")]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id}: {self.from_state} → {self.to_state}"


class SimulatedExecution(models.Model):
    """One run of a step by the simulated executor (what a real machine would have done): the
    crash tests count these to prove no attempt of a step ran twice."""

    step = models.ForeignKey(DeploymentStep, on_delete=models.CASCADE, related_name="+")
    attempt = models.PositiveIntegerField("attempt")
    worker = models.CharField("worker", max_length=200)
    outcome = models.CharField("outcome", max_length=20)
    at = models.DateTimeField("at", auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"step {self.step_id} attempt {self.attempt}: {self.outcome}"
