"""The demo logins: who to sign in as, in which role, with which password."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.db.models import Count, Q

from itsm.roles import END_USER

from . import catalogue as cat

CALLERS_SHOWN = 3
CHANGED = "(changed)"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    role: str
    password: str  # the demo password, or CHANGED when the user has set another one


def demo_logins(password: str = cat.DEFAULT_PASSWORD) -> list[DemoLogin]:
    """The admin, the people in each role group, and a few ordinary staff (incident callers).

    Users are checked against `password` once per distinct password hash: the seed gives all
    new users one hash, so this costs one or two hash computations, not one per user.
    """
    user_model = get_user_model()
    named = [cat.ADMIN, *cat.ROLE_PEOPLE]
    users = {
        u.username: u
        for u in user_model.objects.filter(
            username__in=[s.username for s in named]
        ).prefetch_related("groups")
    }
    rows: list[tuple[object, str]] = []
    for spec in named:
        user = users.get(spec.username)
        if user is None:
            continue
        if user.is_superuser:
            role = "Administrator (superuser)"
        else:
            role = ", ".join(sorted(g.name for g in user.groups.all())) or "Staff, business owner"
        rows.append((user, role))
    # Ordinary staff: no role, or only the self-service End User role (the service desk's demo
    # step makes one of them an end user).
    callers = (
        user_model.objects.filter(
            Q(groups__isnull=True) | Q(groups__name=END_USER),
            email__endswith=f"@{cat.EMAIL_DOMAIN}",
            is_superuser=False,
            owned_cis__isnull=False,
        )
        .exclude(username__in=[s.username for s in named])
        .annotate(end_user=Count("groups", filter=Q(groups__name=END_USER)))
        .order_by("-end_user", "username")[:CALLERS_SHOWN]
    )
    rows.extend(
        (
            user,
            f"{END_USER} (portal), incident caller" if user.end_user else "Staff, incident caller",
        )
        for user in callers
    )

    matches: dict[str, bool] = {}
    logins = []
    for user, role in rows:
        if user.password not in matches:
            matches[user.password] = user.has_usable_password() and check_password(
                password, user.password
            )
        logins.append(
            DemoLogin(
                username=user.get_username(),
                name=user.get_full_name(),
                role=role,
                password=password if matches[user.password] else CHANGED,
            )
        )
    return logins
