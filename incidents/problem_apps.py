"""What problem management adds when the app is ready: menu entries, its Celery task and its
(read-only) admin pages."""


def ready() -> None:
    from itsm.context_processors import add_nav_entry

    from . import problem_admin, trend_tasks  # noqa: F401 - trend_tasks registers the task

    problem_admin.register()

    add_nav_entry("Problems", "problems:problem-list", "incidents.view_problem")
    add_nav_entry(
        "Known errors", "problems:known-error-list", "incidents.view_published_knownerror"
    )
    add_nav_entry("Trends", "problems:trends", "incidents.view_incident")
