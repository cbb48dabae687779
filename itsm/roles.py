"""The roles of the service desk, as Django groups with their permissions.

Groups are created by a data migration (itsm/migrations) and their permissions re-synced after
every `migrate`, so a model added later reaches the roles that should have it. Patterns:
`app.*` every permission of an app, `*.view_*` every read permission of the project's apps,
otherwise an exact `app_label.codename`.
"""

from __future__ import annotations

import fnmatch

PROJECT_APPS = ("cmdb", "incidents", "changes", "releases", "agents")

SERVICE_DESK = "Service Desk"
PROBLEM_MANAGER = "Problem Manager"
CHANGE_MANAGER = "Change Manager"
CAB_MEMBER = "CAB Member"
RELEASE_MANAGER = "Release Manager"
DEPLOYMENT_TECHNICIAN = "Deployment Technician"
CMDB_MANAGER = "CMDB Manager"
READ_ONLY = "Read Only"
#: Self-service: reports incidents and follows their own (row-level filtering in
#: incidents.selectors); the default role of new users who are not staff.
END_USER = "End User"

READ_ALL = "*.view_*"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    READ_ONLY: [READ_ALL],
    SERVICE_DESK: [
        READ_ALL,
        "incidents.add_incident",
        "incidents.change_incident",
        "incidents.resolve_incident",
        "changes.add_change",
        "changes.change_change",
        "changes.delete_change",
        "incidents.escalate_incident",
        "incidents.add_problem",  # the service desk may raise a problem from incidents
    ],
    PROBLEM_MANAGER: [READ_ALL, "incidents.*"],
    CHANGE_MANAGER: [READ_ALL, "changes.*"],
    CAB_MEMBER: [READ_ALL, "changes.vote_change"],
    RELEASE_MANAGER: [READ_ALL, "releases.*", "changes.implement_change"],
    DEPLOYMENT_TECHNICIAN: [READ_ALL, "releases.deploy_release", "releases.change_deploymentstep"],
    CMDB_MANAGER: [READ_ALL, "cmdb.*", "agents.*"],
    END_USER: ["incidents.report_incident", "incidents.view_published_knownerror"],
}

# Reading these would leak secrets or security logs: never granted through "*.view_*".
EXCLUDED_FROM_READ_ALL = {
    "agents.view_enrollmenttoken",
    "agents.view_securityevent",
    "agents.view_nonce",
}


def _matches(pattern: str, app_label: str, codename: str) -> bool:
    full = f"{app_label}.{codename}"
    if pattern == READ_ALL:
        return (
            app_label in PROJECT_APPS
            and codename.startswith("view_")
            and full not in EXCLUDED_FROM_READ_ALL
        )
    return fnmatch.fnmatchcase(full, pattern)


def roles_granting(*perms: str) -> list[str]:
    """The roles whose members hold every one of `perms` (`"app_label.codename"`), in the
    order of ROLE_PERMISSIONS: what a 403 page names as the role to ask for."""
    names = []
    for name, patterns in ROLE_PERMISSIONS.items():
        if all(
            any(_matches(p, *perm.split(".", 1)) for p in patterns) for perm in perms if "." in perm
        ):
            names.append(name)
    return names


def sync_roles(group_model, permission_model) -> None:
    """Create every role group and give it exactly the permissions its patterns select."""
    permissions = list(
        permission_model.objects.filter(content_type__app_label__in=PROJECT_APPS).select_related(
            "content_type"
        )
    )
    for name, patterns in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = [
            perm
            for perm in permissions
            if any(_matches(p, perm.content_type.app_label, perm.codename) for p in patterns)
        ]
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, apps=None, using="default", **kwargs) -> None:
    """post_migrate hook: make sure every app's permissions exist, then sync the groups."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    state_apps = apps or global_apps
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using, apps=state_apps)
    try:
        group_model = state_apps.get_model("auth", "Group")
        permission_model = state_apps.get_model("auth", "Permission")
    except LookupError:
        return
    sync_roles(group_model, permission_model)
