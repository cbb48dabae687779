"""What problem management adds when the app is ready: menu entries, its Celery task, its
(read-only) admin pages and its demo step."""


def ready() -> None:
    from cmdb import demo
    from itsm.context_processors import add_nav_entry

    from . import problem_admin, trend_tasks  # noqa: F401 - trend_tasks registers the task
    from .problem_demo import seed_demo_step

    problem_admin.register()
    if seed_demo_step not in demo.extensions:
        demo.extensions.append(seed_demo_step)

    add_nav_entry("Problems", "problems:problem-list", "incidents.view_problem")
    add_nav_entry(
        "Known errors", "problems:known-error-list", "incidents.view_published_knownerror"
    )
    add_nav_entry("Trends", "problems:trends", "incidents.view_incident")
