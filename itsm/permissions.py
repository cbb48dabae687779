"""Permissions: API permission classes (deny by default, reads need the model's `view_`
permission) and `require_permission`, which every service calls first."""

from rest_framework.permissions import DjangoModelPermissions


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
