from django.apps import AppConfig


class ItsmConfig(AppConfig):
    """Shared pieces: roles (groups), API conventions, the navigation shell."""

    name = "itsm"
    verbose_name = "ITSM core"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import production, roles  # noqa: F401 - production registers its deploy check

        post_migrate.connect(roles.sync_roles_after_migrate, sender=self)
        self._connect_permission_invalidation()
        self._retire_clear_text_token_admin()

    @staticmethod
    def _retire_clear_text_token_admin() -> None:
        """DRF's token admin would store keys in clear, which nothing accepts any more: API
        tokens live hashed in itsm.ApiToken (its admin is in itsm/admin.py)."""
        from django.contrib import admin
        from rest_framework.authtoken.models import TokenProxy

        if admin.site.is_registered(TokenProxy):
            admin.site.unregister(TokenProxy)

    @staticmethod
    def _connect_permission_invalidation() -> None:
        """Any change that can change what a user may do bumps the permissions generation."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group, Permission
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from . import caching

        def bump(**kwargs) -> None:
            caching.bump("permissions")

        user_model = get_user_model()
        for sender in (
            user_model.groups.through,
            user_model.user_permissions.through,
            Group.permissions.through,
        ):
            m2m_changed.connect(bump, sender=sender, weak=False)
        for sender in (user_model, Group, Permission):
            post_save.connect(bump, sender=sender, weak=False)
            post_delete.connect(bump, sender=sender, weak=False)
