from django.apps import AppConfig


class CmdbConfig(AppConfig):
    """Configuration management: CIs, their classes, relationships, software and history."""

    name = "cmdb"
    verbose_name = "Configuration management"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from itsm import caching

        from . import extensions
        from .models import CIType

        extensions.register()

        def bump(**kwargs) -> None:
            caching.bump("citypes")

        post_save.connect(bump, sender=CIType, weak=False)
        post_delete.connect(bump, sender=CIType, weak=False)
