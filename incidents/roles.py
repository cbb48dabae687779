"""The End User role by default: a new user who is not staff and got no role by the time the
transaction that created them commits becomes an End User (self-service portal)."""

from __future__ import annotations

from django.db import transaction

from itsm.roles import END_USER


def grant_default_role(user_id: int) -> bool:
    """Give the user the End User role if they are not staff and hold no role; True if given."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or user.is_staff or user.is_superuser or user.groups.exists():
        return False
    group = Group.objects.filter(name=END_USER).first()
    if group is None:
        return False
    user.groups.add(group)
    return True


def default_role_on_create(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """post_save of the user model: decide once the creating transaction commits (the admin
    and the demo seed add groups right after creating the user)."""
    if created and not raw and not instance.is_staff and not instance.is_superuser:
        transaction.on_commit(lambda: grant_default_role(instance.pk))
