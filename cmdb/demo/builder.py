"""Write the demo blueprint to the database: only what is missing, CMDB writes through services.

Each `build_*` function compares one concern of the plan with the database by natural key and
creates what is not there yet, so `seed_demo()` can run any number of times:

- sites by slug, departments by name (plain ORM: they have no services);
- users by username, with their role groups and `Person` row (plain ORM, one password hash
  shared by the new users, since hashing hundreds of passwords would take minutes);
- CIs by (type, name), created with `ci_bulk_create`, moved through their lifecycle with
  `ci_transition`, given their people with `ci_set_roles` when they have none;
- relationships by (source, target, type) with `relationship_create`;
- installed software with `software_replace` for machines that have none recorded.

Existing rows are never changed: the demo tops up, it does not overwrite what people or agents
did since.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction

from cmdb import services
from cmdb.choices import ChangeSource, CIStatus
from cmdb.history import ChangeContext
from cmdb.models import (
    CIRole,
    CIType,
    ConfigurationItem,
    Department,
    InstalledSoftware,
    Person,
    Relationship,
    RelationshipType,
    Site,
)

from . import catalogue as cat
from .blueprint import Blueprint, CIPlan, make_blueprint

CONTEXT = ChangeContext(source=ChangeSource.SYSTEM, source_ref="seed_demo")
#: Disposal needs a reason.
DISPOSE_CONTEXT = ChangeContext(
    source=ChangeSource.SYSTEM, source_ref="seed_demo", reason="Demo: retired hardware"
)

#: How a CI reaches its planned status: the status it is created in, then lifecycle moves.
LIFECYCLE_PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    CIStatus.ORDERED: (CIStatus.ORDERED, ()),
    CIStatus.RECEIVED: (CIStatus.RECEIVED, ()),
    CIStatus.UNDER_TEST: (CIStatus.RECEIVED, (CIStatus.UNDER_TEST,)),
    CIStatus.PRODUCTION: (CIStatus.PRODUCTION, ()),
    CIStatus.UNDER_REPAIR: (CIStatus.PRODUCTION, (CIStatus.UNDER_REPAIR,)),
    CIStatus.DISPOSED: (CIStatus.PRODUCTION, (CIStatus.DISPOSED,)),
}


class DemoDataError(Exception):
    """The database is not ready for the demo (e.g. migrations missing)."""


@dataclass
class SeedReport:
    """What one run created, and what it had to leave out."""

    created: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def seed_demo(
    *,
    ci_count: int = cat.DEFAULT_CI_COUNT,
    password: str = cat.DEFAULT_PASSWORD,
    seed: int = cat.SEED,
) -> SeedReport:
    """Plan the demo organisation and create whatever of it is missing, in one transaction."""
    started = time.perf_counter()
    blueprint = make_blueprint(ci_count=ci_count, seed=seed)
    report = SeedReport()
    with transaction.atomic():
        sites, departments = build_org(blueprint, report)
        users = build_people(blueprint, departments, password=password, report=report)
        cis = build_cis(blueprint, sites=sites, departments=departments, users=users, report=report)
        build_relationships(blueprint, cis, report)
        build_software(blueprint, cis, report)
    report.seconds = time.perf_counter() - started
    return report


# --- organisation and people ----------------------------------------------------------------


def build_org(
    blueprint: Blueprint, report: SeedReport
) -> tuple[dict[str, Site], dict[str, Department]]:
    """Sites (keyed by hostname prefix) and departments (keyed by name)."""
    sites: dict[str, Site] = {}
    for spec in blueprint.sites:
        site, created = Site.objects.get_or_create(
            slug=spec.slug, defaults={"name": spec.name, "address": spec.address}
        )
        report.created["sites"] += created
        sites[spec.code] = site
    departments: dict[str, Department] = {}
    for spec in blueprint.departments:
        department, created = Department.objects.get_or_create(
            name=spec.name, defaults={"site": sites[spec.site]}
        )
        report.created["departments"] += created
        departments[spec.name] = department
    return sites, departments


def build_people(
    blueprint: Blueprint,
    departments: dict[str, Department],
    *,
    password: str,
    report: SeedReport,
) -> dict[str, object]:
    """Users by username, each with their role groups and a `Person` row."""
    user_model = get_user_model()
    plans = {p.username: p for p in blueprint.people}
    users = {u.username: u for u in user_model.objects.filter(username__in=list(plans))}
    missing = [p for p in blueprint.people if p.username not in users]
    if missing:
        hashed = make_password(password)  # once: PBKDF2 per user would take minutes
        new_users = user_model.objects.bulk_create(
            [
                user_model(
                    username=p.username,
                    first_name=p.first_name,
                    last_name=p.last_name,
                    email=p.email,
                    password=hashed,
                    is_staff=p.is_superuser,
                    is_superuser=p.is_superuser,
                )
                for p in missing
            ],
            batch_size=500,
        )
        if any(u.pk is None for u in new_users):  # a backend without RETURNING
            new_users = user_model.objects.filter(username__in=[p.username for p in missing])
        users.update({u.username: u for u in new_users})
        report.created["users"] += len(missing)

    group_names = sorted({g for p in blueprint.people for g in p.groups})
    groups = {g.name: g for g in Group.objects.filter(name__in=group_names)}
    for name in set(group_names) - groups.keys():  # role groups come from a migration
        groups[name] = Group.objects.create(name=name)
    membership = user_model.groups.through
    user_ids = [u.pk for u in users.values()]
    have = set(membership.objects.filter(user_id__in=user_ids).values_list("user_id", "group_id"))
    wanted = [
        membership(user_id=users[p.username].pk, group_id=groups[g].pk)
        for p in blueprint.people
        for g in p.groups
        if (users[p.username].pk, groups[g].pk) not in have
    ]
    membership.objects.bulk_create(wanted)
    report.created["group memberships"] += len(wanted)

    with_person = set(Person.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    people = [
        Person(
            user=users[p.username],
            department=departments[p.department],
            job_title=p.job_title,
            phone=p.phone,
        )
        for p in blueprint.people
        if users[p.username].pk not in with_person
    ]
    Person.objects.bulk_create(people, batch_size=500)
    report.created["people"] += len(people)
    return users


# --- configuration items --------------------------------------------------------------------


def build_cis(
    blueprint: Blueprint,
    *,
    sites: dict[str, Site],
    departments: dict[str, Department],
    users: dict[str, object],
    report: SeedReport,
) -> dict[str, ConfigurationItem]:
    """Create the missing CIs, move them to their planned status, and give CIs their people.

    Returns every planned CI that exists, by name.
    """
    types = {t.slug: t for t in CIType.objects.filter(slug__in={c.ci_type for c in blueprint.cis})}
    absent = {c.ci_type for c in blueprint.cis} - types.keys()
    if absent:
        raise DemoDataError(
            f"CI types {', '.join(sorted(absent))} are missing: run `manage.py migrate` first."
        )
    planned_type = {c.name: c.ci_type for c in blueprint.cis}
    type_slugs = {t.pk: slug for slug, t in types.items()}
    cis: dict[str, ConfigurationItem] = {}
    existing = ConfigurationItem.objects.filter(
        ci_type__in=types.values(), name__in=list(planned_type)
    ).order_by("id")
    for ci in existing:
        # The natural key is (type, name): a namesake of another type is a different CI.
        if planned_type[ci.name] == type_slugs[ci.ci_type_id]:
            cis.setdefault(ci.name, ci)
    missing = [plan for plan in blueprint.cis if plan.name not in cis]
    missing = _without_taken_identifiers(missing, report)

    items = [
        _ci_item(plan, types=types, sites=sites, departments=departments, users=users)
        for plan in missing
    ]
    created = services.ci_bulk_create(context=CONTEXT, items=items) if items else []
    report.created["cis"] += len(created)
    for plan, ci in zip(missing, created, strict=True):
        report.created[f"cis:{plan.ci_type}"] += 1
        for status in LIFECYCLE_PATHS[plan.status][1]:
            ci = services.ci_transition(
                context=DISPOSE_CONTEXT if status == CIStatus.DISPOSED else CONTEXT,
                ci_id=ci.pk,
                to_status=status,
            )
            report.created["lifecycle moves"] += 1
        cis[plan.name] = ci

    _assign_roles(blueprint, cis, users, report)
    return cis


def _without_taken_identifiers(plans: list[CIPlan], report: SeedReport) -> list[CIPlan]:
    """Leave out planned CIs whose serial number, asset tag or UUID another CI already has."""
    taken: set[tuple[str, str]] = set()
    for field_name in services.IDENTIFIER_FIELDS:
        values = [getattr(p, field_name) for p in plans if getattr(p, field_name)]
        if values:
            taken.update(
                (field_name, value)
                for value in ConfigurationItem.objects.filter(
                    **{f"{field_name}__in": values}
                ).values_list(field_name, flat=True)
            )
    kept = []
    for plan in plans:
        clash = [f for f in services.IDENTIFIER_FIELDS if (f, getattr(plan, f)) in taken]
        if clash:
            report.skipped.append(f"{plan.name}: another CI already has its {', '.join(clash)}")
        else:
            kept.append(plan)
    return kept


def _ci_item(
    plan: CIPlan,
    *,
    types: dict[str, CIType],
    sites: dict[str, Site],
    departments: dict[str, Department],
    users: dict[str, object],
) -> dict[str, object]:
    return {
        "name": plan.name,
        "ci_type": types[plan.ci_type],
        "status": LIFECYCLE_PATHS[plan.status][0],
        "description": plan.description,
        "site": sites[plan.site] if plan.site else None,
        "department": departments[plan.department] if plan.department else None,
        "owner": users.get(plan.owner) if plan.owner else None,
        "hostname": plan.hostname,
        "serial_number": plan.serial_number,
        "asset_tag": plan.asset_tag,
        "uuid": plan.uuid,
        "attributes": plan.attributes,
    }


def _assign_roles(
    blueprint: Blueprint,
    cis: dict[str, ConfigurationItem],
    users: dict[str, object],
    report: SeedReport,
) -> None:
    """`ci_set_roles` for planned CIs that have nobody responsible for them yet."""
    planned = [p for p in blueprint.cis if p.roles and p.name in cis]
    with_roles = set(
        CIRole.objects.filter(ci_id__in=[cis[p.name].pk for p in planned])
        .values_list("ci_id", flat=True)
        .distinct()
    )
    for plan in planned:
        ci = cis[plan.name]
        if ci.pk in with_roles:
            continue
        pairs = [(users[u], role) for u, role in plan.roles if u in users]
        services.ci_set_roles(context=CONTEXT, ci_id=ci.pk, roles=pairs)
        report.created["ci roles"] += len(pairs)


# --- relationships and software -------------------------------------------------------------


def build_relationships(
    blueprint: Blueprint, cis: dict[str, ConfigurationItem], report: SeedReport
) -> None:
    """Create the planned links between CIs that do not exist yet."""
    slugs = {r.type for r in blueprint.relationships}
    types = {t.slug: t for t in RelationshipType.objects.filter(slug__in=slugs)}
    absent = slugs - types.keys()
    if absent:
        raise DemoDataError(
            f"Relationship types {', '.join(sorted(absent))} are missing: run `manage.py migrate`."
        )
    have = set(
        Relationship.objects.filter(type__in=types.values()).values_list(
            "source_id", "target_id", "type_id"
        )
    )
    for rel in blueprint.relationships:
        source, target = cis.get(rel.source), cis.get(rel.target)
        if source is None or target is None:
            continue  # left out above; reported there
        rel_type = types[rel.type]
        if (source.pk, target.pk, rel_type.pk) in have:
            continue
        services.relationship_create(context=CONTEXT, source=source, target=target, type=rel_type)
        have.add((source.pk, target.pk, rel_type.pk))
        report.created["relationships"] += 1


def build_software(
    blueprint: Blueprint, cis: dict[str, ConfigurationItem], report: SeedReport
) -> None:
    """Record the planned software of machines that have no software recorded yet."""
    planned = [p for p in blueprint.cis if p.software and p.name in cis]
    with_software = set(
        InstalledSoftware.objects.filter(ci_id__in=[cis[p.name].pk for p in planned])
        .values_list("ci_id", flat=True)
        .distinct()
    )
    for plan in planned:
        ci = cis[plan.name]
        if ci.pk in with_software:
            continue
        items = [{"name": n, "vendor": v, "version": ver} for n, v, ver in plan.software]
        change = services.software_replace(context=CONTEXT, ci=ci, items=items)
        report.created["installed software"] += len(change["added"])
