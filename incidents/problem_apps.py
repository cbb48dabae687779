"""What problem management adds when the app is ready: menu entries and its Celery task."""


def ready() -> None:
    from itsm.context_processors import add_nav_entry

    from . import trend_tasks  # noqa: F401 - registers incidents.refresh_trends

    add_nav_entry("Problems", "problems:problem-list", "incidents.view_problem")
    add_nav_entry(
        "Known errors", "problems:known-error-list", "incidents.view_published_knownerror"
    )
    add_nav_entry("Trends", "problems:trends", "incidents.view_incident")
