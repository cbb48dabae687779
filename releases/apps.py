from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Release management"

    def ready(self) -> None:
        """Menu entries, the "Deployments" panel of the CI page (cmdb never imports releases:
        it renders what is registered), the software check of the verification, and the demo
        step of `seed_demo` (the CMDB never imports releases)."""
        from cmdb import demo
        from itsm.context_processors import add_nav_entry
        from itsm.expectations import register_software_check

        from . import extensions, verification
        from .demo import seed_demo_step

        add_nav_entry("Releases", "releases:release-list", "releases.view_release")
        add_nav_entry("My targets", "releases:targets", "releases.deploy_release")
        add_nav_entry(
            "Software library", "releases:artifact-list", "releases.view_softwareartifact"
        )
        extensions.register()
        register_software_check(verification.software_check)
        if seed_demo_step not in demo.extensions:
            demo.extensions.append(seed_demo_step)
