"""The CI row lock every CMDB write that changes one CI takes (services, roles, inventory)."""

from __future__ import annotations

from itsm.exceptions import ApplicationError

from .models import ConfigurationItem


def lock_ci(ci_id: int) -> ConfigurationItem:
    """Lock one CI row (not its type's row) and return it; a 400 if it does not exist."""
    try:
        # of=("self",): lock the CI row only, not its type's row, which every CI of the type shares.
        return (
            ConfigurationItem.objects.select_for_update(of=("self",))
            .select_related("ci_type")
            .get(pk=ci_id)
        )
    except ConfigurationItem.DoesNotExist as exc:
        raise ApplicationError(f"CI {ci_id} does not exist.") from exc
