from django.apps import AppConfig


class ChangesConfig(AppConfig):
    name = "changes"
    verbose_name = "Change management"

    def ready(self) -> None:
        """Add the change-management step to `seed_demo` (the CMDB never imports changes);
        the home card and the menu entries of the change pages."""
        from cmdb import demo

        from . import ui_extensions
        from .demo import seed_demo_step

        if seed_demo_step not in demo.extensions:
            demo.extensions.append(seed_demo_step)
        ui_extensions.register()
