from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents and inventory"

    def ready(self) -> None:
        """Add the agents' panel to the CI page and their step to `seed_demo` (the CMDB never
        imports agents: it renders what is registered)."""
        from cmdb import demo

        from . import extensions
        from .demo import seed_demo_step

        extensions.register()
        if seed_demo_step not in demo.extensions:
            demo.extensions.append(seed_demo_step)
