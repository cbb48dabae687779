from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents and inventory"

    def ready(self) -> None:
        from . import extensions

        extensions.register()
