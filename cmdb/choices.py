"""Enumerations of the CMDB, with the lifecycle's allowed moves beside its statuses."""

from django.db import models

from itsm.choices import ChangeSource  # noqa: F401 - moved to itsm with the audit log


class CIStatus(models.TextChoices):
    """Lifecycle status of a CI (status accounting, per the public contract)."""

    ORDERED = "ordered", "Ordered"
    RECEIVED = "received", "Received (pending testing)"
    UNDER_TEST = "under_test", "Under test"
    PRODUCTION = "production", "Production"
    UNDER_REPAIR = "under_repair", "Under repair"
    DISPOSED = "disposed", "Disposed"


#: Allowed lifecycle moves. `disposed` is final.
CI_TRANSITIONS: dict[str, frozenset[str]] = {
    CIStatus.ORDERED: frozenset({CIStatus.RECEIVED, CIStatus.DISPOSED}),
    CIStatus.RECEIVED: frozenset({CIStatus.UNDER_TEST, CIStatus.DISPOSED}),
    CIStatus.UNDER_TEST: frozenset({CIStatus.PRODUCTION, CIStatus.RECEIVED}),
    CIStatus.PRODUCTION: frozenset({CIStatus.UNDER_REPAIR, CIStatus.DISPOSED}),
    CIStatus.UNDER_REPAIR: frozenset({CIStatus.PRODUCTION, CIStatus.DISPOSED}),
    CIStatus.DISPOSED: frozenset(),
}


#: Statuses a CI may be created in. Not `under_repair` or `disposed`: those are reached only
#: through a recorded lifecycle move (with its reason).
CI_INITIAL_STATUSES: frozenset[str] = frozenset(
    {CIStatus.ORDERED, CIStatus.RECEIVED, CIStatus.UNDER_TEST, CIStatus.PRODUCTION}
)


def allowed_moves(status: str) -> list[str]:
    """The statuses a CI in `status` may move to, in the enumeration's order."""
    allowed = CI_TRANSITIONS.get(status, frozenset())
    return [value for value in CIStatus.values if value in allowed]


class CIRoleKind(models.TextChoices):
    """The responsibility a person holds for a CI."""

    SYSTEMS_MANAGER = "systems_manager", "Systems manager"
    NETWORK_ADMINISTRATOR = "network_administrator", "Network administrator"
    APPLICATION_ADMINISTRATOR = "application_administrator", "Application administrator"
    DATABASE_ADMINISTRATOR = "database_administrator", "Database administrator"
    BUSINESS_OWNER = "business_owner", "Business owner"
    SUPPORT_CONTACT = "support_contact", "Support contact"


class ImpactDirection(models.TextChoices):
    """Downstream: what feels a failure of this CI. Upstream: what this CI depends on."""

    DOWNSTREAM = "downstream", "Downstream (who is affected)"
    UPSTREAM = "upstream", "Upstream (what it depends on)"
