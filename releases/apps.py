from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Release management"

    def ready(self) -> None:
        """Menu entries, and the "Deployments" panel of the CI page (cmdb never imports
        releases: it renders what is registered)."""
        from itsm.context_processors import add_nav_entry

        from . import extensions

        add_nav_entry("Releases", "releases:release-list", "releases.view_release")
        add_nav_entry("My targets", "releases:targets", "releases.deploy_release")
        add_nav_entry(
            "Software library", "releases:artifact-list", "releases.view_softwareartifact"
        )
        extensions.register()
