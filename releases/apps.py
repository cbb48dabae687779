from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Release management"

    def ready(self) -> None:
        from itsm.expectations import register_software_check

        from . import verification

        register_software_check(verification.software_check)
