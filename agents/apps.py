from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents and inventory"

    def ready(self) -> None:
        from cmdb.demo import extensions

        from .demo import seed_demo_step

        if seed_demo_step not in extensions:
            extensions.append(seed_demo_step)
