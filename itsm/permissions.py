"""Permissions: deny by default. API reads need the model's `view_` permission; services call
`require_permission` first; HTML views say which role would be needed when they refuse."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import DjangoModelPermissions

from .roles import roles_granting


class RoleRequired(PermissionDenied):
    """A page refused for want of permissions; names the roles that hold them (the 403 page
    shows them)."""

    def __init__(self, perms: Iterable[str]) -> None:
        self.perms = tuple(perms)
        self.roles = roles_granting(*self.perms)
        needed = ", ".join(self.perms)
        if self.roles:
            message = f"This needs the role {_either(self.roles)} (permission {needed})."
        else:
            message = f"This needs the permission {needed}, which no role grants."
        super().__init__(message)


def _either(names: list[str]) -> str:
    quoted = [f"“{name}”" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def permission_required(perm: str | Iterable[str], raise_exception: bool = True) -> Callable:
    """Like Django's decorator of the same name (always raising), but the 403 names the role
    that would be needed. `perm` is one permission or several that are all required."""
    perms = (perm,) if isinstance(perm, str) else tuple(perm)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            missing = [p for p in perms if not request.user.has_perm(p)]
            if missing:
                raise RoleRequired(missing)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class StrictModelPermissions(DjangoModelPermissions):
    """Like DjangoModelPermissions, but reading also needs the `view_<model>` permission.

    A view without a queryset is refused unless it declares its own permission classes, so a
    new endpoint cannot become public by accident.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        if getattr(view, "_ignore_model_permissions", False):
            return True
        if not request.user or not request.user.is_authenticated:
            return False
        try:
            queryset = self._queryset(view)
        except (AssertionError, AttributeError):
            return False
        perms = self.get_required_permissions(request.method, queryset.model)
        return request.user.has_perms(perms)


class HasPerm:
    """Factory for a permission class that requires named permissions for every method.

    Used by workflow actions: `permission_classes = [IsAuthenticated, HasPerm("cmdb.transition_ci")]`.
    """

    def __new__(cls, *perms: str):
        from rest_framework.permissions import BasePermission

        class _HasPerm(BasePermission):
            required = perms

            def has_permission(self, request, view):
                return bool(
                    request.user and request.user.is_authenticated and request.user.has_perms(perms)
                )

        _HasPerm.__name__ = "HasPerm(" + ",".join(perms) + ")"
        return _HasPerm


def require_permission(context, perm: str) -> None:
    """Refuse a human actor without `perm`; the system itself (actor None) may act.

    `context` is an `itsm.audit.ChangeContext` (anything with an `actor`). Services call it
    first; the refusal is a `PermissionDeniedError` (403).
    """
    # Imported here: rest_framework.views (which exceptions needs) imports this module.
    from .exceptions import PermissionDeniedError

    actor = context.actor
    if actor is not None and not actor.has_perm(perm):
        raise PermissionDeniedError(f"You do not have permission to do this ({perm}).")
