"""Models of release management, one module per concern."""

from .deployment import (
    Deployment,
    DeploymentEvent,
    DeploymentStep,
    DeploymentTarget,
    DeploymentWave,
    SimulatedExecution,
)
from .library import SoftwareArtifact
from .package import PackageStep, ReleasePackage
from .release import (
    NUMBER_PREFIX,
    NUMBER_SEQUENCE,
    ReadinessReview,
    Release,
    ReleaseTask,
    TestResult,
)

__all__ = [
    "NUMBER_PREFIX",
    "NUMBER_SEQUENCE",
    "Deployment",
    "DeploymentEvent",
    "DeploymentStep",
    "DeploymentTarget",
    "DeploymentWave",
    "PackageStep",
    "ReadinessReview",
    "Release",
    "ReleasePackage",
    "ReleaseTask",
    "SimulatedExecution",
    "SoftwareArtifact",
    "TestResult",
]
