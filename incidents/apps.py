from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incident and problem management"

    def ready(self) -> None:
        """Default role of new users, calendar cache invalidation, the demo step."""
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save

        from cmdb import demo

        from . import sla_services
        from .demo import seed_demo_step
        from .models import BusinessCalendar, CalendarHoliday, SlaPolicy, WorkingHours
        from .roles import default_role_on_create

        post_save.connect(
            default_role_on_create,
            sender=get_user_model(),
            dispatch_uid="incidents_default_role",
        )
        for model in (BusinessCalendar, WorkingHours, CalendarHoliday, SlaPolicy):
            post_save.connect(sla_services.sla_changed, sender=model, weak=False)
            post_delete.connect(sla_services.sla_changed, sender=model, weak=False)
        from . import extensions

        extensions.register()
        if seed_demo_step not in demo.extensions:
            demo.extensions.append(seed_demo_step)

        from . import problem_apps

        problem_apps.ready()
