from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incident and problem management"

    def ready(self) -> None:
        from . import problem_apps

        problem_apps.ready()
