"""The demo organisation as a plan: people, CIs, relationships and software. No database access.

`make_blueprint()` is deterministic: the same seed and CI count give the same plan, so the
builder can compare it with the database by natural keys (usernames, CI type + name,
relationship triples) and create only what is missing.

Identifiers (serial numbers, UUIDs, asset tags) derive from the CI's name rather than from the
random stream, so a CI keeps its identifiers whatever else the plan contains.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cmdb.choices import CIRoleKind, CIStatus

from . import catalogue as cat

#: Statuses in which a CI takes part in the dependency graph.
LIVE_STATUSES = frozenset({CIStatus.PRODUCTION, CIStatus.UNDER_TEST, CIStatus.UNDER_REPAIR})
#: Machines in these statuses have no software: not yet imaged, or wiped.
BARE_STATUSES = frozenset({CIStatus.ORDERED, CIStatus.RECEIVED, CIStatus.DISPOSED})
UUID_NAMESPACE = uuid.UUID("6f1c1f0e-3a52-4d8e-9a55-1b0e5d6c9a42")
SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # no I or O, as on vendors' labels
DATABASE_PACKAGES = {
    "postgresql": "postgresql",
    "mysql": "mysql-server",
    "mariadb": "mariadb-server",
    "redis": "redis-server",
    "mongodb": "mongodb-org",
    "sqlserver": "Microsoft SQL Server 2019",
}


@dataclass
class PersonPlan:
    username: str
    first_name: str
    last_name: str
    email: str
    department: str
    job_title: str
    phone: str
    groups: tuple[str, ...] = ()
    is_superuser: bool = False

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class CIPlan:
    name: str
    ci_type: str  # CIType slug
    site: str | None = None  # SiteSpec.code
    department: str | None = None
    owner: str | None = None  # username
    description: str = ""
    hostname: str = ""
    serial_number: str = ""
    asset_tag: str = ""
    uuid: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = CIStatus.PRODUCTION
    roles: list[tuple[str, str]] = field(default_factory=list)  # (username, CIRoleKind)
    software: list[cat.Package] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES


@dataclass(frozen=True)
class RelationshipPlan:
    source: str  # CI names
    type: str  # RelationshipType slug
    target: str


@dataclass
class Blueprint:
    seed: int
    people: list[PersonPlan]
    cis: list[CIPlan]
    relationships: list[RelationshipPlan]

    @property
    def sites(self) -> tuple[cat.SiteSpec, ...]:
        return cat.SITES

    @property
    def departments(self) -> tuple[cat.DepartmentSpec, ...]:
        return cat.DEPARTMENTS

    def counts(self) -> Counter[str]:
        return Counter(ci.ci_type for ci in self.cis)


# --- identifiers ----------------------------------------------------------------------------


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def make_serial(fmt: cat.SerialFormat, name: str) -> str:
    alphabet = "0123456789" if fmt.digits_only else SERIAL_ALPHABET
    digest = _digest("serial", name)
    return fmt.prefix + "".join(alphabet[b % len(alphabet)] for b in digest[: fmt.length])


def make_uuid(name: str) -> str:
    return str(uuid.uuid5(UUID_NAMESPACE, name))


def _weighted(rng: random.Random, options: tuple | list) -> Any:
    """Pick from options listed most common first (weights 6, 3, 1, 1…)."""
    if len(options) == 1:
        return options[0]
    weights = [6, 3] + [1] * (len(options) - 2)
    return rng.choices(list(options), weights=weights[: len(options)])[0]


# --- the planner ----------------------------------------------------------------------------


class _Planner:
    """Accumulates the plan; each concern draws from its own random stream."""

    def __init__(self, seed: int) -> None:
        master = random.Random(seed)
        self.rng = {
            name: random.Random(master.getrandbits(64))
            for name in ("people", "infrastructure", "endpoints", "software")
        }
        self.people: list[PersonPlan] = []
        self.cis: dict[str, CIPlan] = {}
        self.groups: dict[str, list[str]] = {}  # name prefix → member names
        self.relationships: list[RelationshipPlan] = []
        self.asset_tags: set[str] = set()
        self.site_names = {site.code: site.name for site in cat.SITES}
        self.departments = {dept.name: dept for dept in cat.DEPARTMENTS}

    # helpers

    def add(self, ci: CIPlan) -> CIPlan:
        if ci.name in self.cis:
            raise ValueError(f"Duplicate CI name in the demo plan: {ci.name}")
        self.cis[ci.name] = ci
        return ci

    def link(self, source: str, type_slug: str, target: str) -> None:
        self.relationships.append(RelationshipPlan(source, type_slug, target))

    def members(self, ref: str) -> list[str]:
        """A group prefix names all its members; anything else names one CI."""
        return self.groups.get(ref, [ref])

    def asset_tag(self, name: str) -> str:
        salt = 0
        while True:
            number = int.from_bytes(_digest("asset", name, str(salt))[:8], "big") % 10_000_000
            tag = f"HF-{number:07d}"
            if tag not in self.asset_tags:
                self.asset_tags.add(tag)
                return tag
            salt += 1

    def hardware_identity(self, name: str, serial: cat.SerialFormat) -> dict[str, str]:
        return {
            "hostname": name,
            "serial_number": make_serial(serial, name),
            "asset_tag": self.asset_tag(name),
        }

    def install(self, ci: CIPlan, os_key: str, packages: tuple[str, ...] = ()) -> None:
        """Plan a server's software: its OS packages plus its role packages for that OS."""
        if ci.status in BARE_STATUSES:
            return
        rng = self.rng["software"]
        software = list(cat.OS_PROFILES[os_key].packages)
        for key in packages:
            spec = cat.SERVER_PACKAGES[key]
            versions = spec.versions.get(os_key) or spec.versions.get("*")
            if versions:
                software.append((key, spec.vendor, _weighted(rng, versions)))
        ci.software = sorted(set(software))

    def install_desktop_apps(self, ci: CIPlan, platform: str) -> None:
        if ci.status in BARE_STATUSES:
            return
        rng = self.rng["software"]
        software = []
        for app in cat.DESKTOP_APPS:
            if platform not in app.platforms:
                continue
            if app.departments and ci.department not in app.departments:
                continue
            if rng.random() < app.share:
                software.append((app.name, app.vendor, _weighted(rng, app.versions)))
        ci.software = sorted(set(software))

    # people

    def plan_people(self, staff_count: int) -> None:
        rng = self.rng["people"]
        extension = Counter()

        def phone(department: str) -> str:
            site = next(s for s in cat.SITES if s.code == self.departments[department].site)
            extension[site.code] += 1
            return f"{site.phone_prefix}{100 + extension[site.code]:03d}"

        def person(spec: cat.PersonSpec, **extra) -> PersonPlan:
            return PersonPlan(
                username=spec.username,
                first_name=spec.first_name,
                last_name=spec.last_name,
                email=f"{spec.username}@{cat.EMAIL_DOMAIN}",
                department=spec.department,
                job_title=spec.job_title,
                phone=phone(spec.department),
                groups=spec.groups,
                **extra,
            )

        self.people.append(person(cat.ADMIN, is_superuser=True))
        self.people.extend(person(spec) for spec in cat.ROLE_PEOPLE)
        taken = {p.username for p in self.people}
        staffed = [d for d in cat.DEPARTMENTS if d.staff_weight]
        weights = [d.staff_weight for d in staffed]
        for _ in range(staff_count):
            first = rng.choice(cat.FIRST_NAMES)
            last = rng.choice(cat.LAST_NAMES)
            dept = rng.choices(staffed, weights=weights)[0]
            title = rng.choice(dept.job_titles)
            base = f"{first}.{last}".lower()
            username, n = base, 1
            while username in taken:
                n += 1
                username = f"{base}{n}"
            taken.add(username)
            spec = cat.PersonSpec(username, first, last, dept.name, title)
            self.people.append(person(spec))

    # infrastructure

    def plan_network(self) -> None:
        rng = self.rng["infrastructure"]
        for spec in cat.NETWORK_DEVICES:
            model = cat.NETWORK_MODELS[spec.model]
            site = spec.name.split("-", 1)[0]
            label = spec.role.replace("_", " ")
            self.add(
                CIPlan(
                    name=spec.name,
                    ci_type="network-device",
                    site=site,
                    department=cat.IT_OPERATIONS,
                    owner=cat.INFRA_LEAD,
                    description=f"{model.manufacturer} {model.model} {label}, {self.site_names[site]}.",
                    status=spec.status,
                    attributes={
                        "device_role": spec.role,
                        "manufacturer": model.manufacturer,
                        "model": model.model,
                        "firmware": _weighted(rng, model.firmware),
                        "ports": model.ports,
                    },
                    roles=[(cat.NETWORK_ADMIN, CIRoleKind.NETWORK_ADMINISTRATOR)],
                    **self.hardware_identity(spec.name, model.serial),
                )
            )
            for uplink in spec.uplinks:
                self.link(uplink, "connects", spec.name)

    def _admin_for(self, os_key: str) -> str:
        return (
            cat.WINDOWS_ADMIN if cat.OS_PROFILES[os_key].platform == "windows" else cat.LINUX_ADMIN
        )

    def _os_attributes(self, os_key: str) -> dict[str, Any]:
        profile = cat.OS_PROFILES[os_key]
        attrs = {"os": profile.os, "os_version": profile.os_version}
        if profile.kernel:
            attrs["kernel"] = profile.kernel
        return attrs

    def plan_servers(self) -> None:
        rng = self.rng["infrastructure"]
        for group in cat.SERVER_GROUPS:
            model = cat.SERVER_MODELS[group.model]
            site = group.prefix.split("-", 1)[0]
            names = self.groups.setdefault(group.prefix, [])
            for number in range(1, group.count + 1):
                name = f"{group.prefix}-{number:02d}"
                os_key = _weighted(rng, group.os)
                ci = self.add(
                    CIPlan(
                        name=name,
                        ci_type="server",
                        site=site,
                        department=cat.IT_OPERATIONS,
                        owner=cat.INFRA_LEAD,
                        description=f"{group.description}, {self.site_names[site]}.",
                        status=group.statuses.get(number, CIStatus.PRODUCTION),
                        uuid=make_uuid(name),
                        attributes={
                            **self._os_attributes(os_key),
                            "manufacturer": model.manufacturer,
                            "model": model.model,
                            "cpu_model": model.cpu_model,
                            "cpu_cores": model.cpu_cores,
                            "memory_mb": model.memory_mb[0],
                            "environment": group.environment,
                        },
                        roles=[(self._admin_for(os_key), CIRoleKind.SYSTEMS_MANAGER)],
                        **self.hardware_identity(name, model.serial),
                    )
                )
                self.install(ci, os_key, group.packages)
                names.append(name)
                # Redundant uplinks: each server hangs off a pair of switches where there are two.
                switches = group.switches
                if len(switches) > 1:
                    start = (2 * (number - 1)) % len(switches)
                    switches = switches[start : start + 2]
                for switch in switches:
                    self.link(switch, "connects", name)

    def plan_vms(self) -> None:
        rng = self.rng["infrastructure"]
        hypervisors: dict[str, list[str]] = {}
        for group in cat.SERVER_GROUPS:
            if group.hypervisor:
                hosts = [n for n in self.groups[group.prefix] if self.cis[n].live]
                hypervisors.setdefault(group.prefix.split("-", 1)[0], []).extend(hosts)
        placed = Counter()
        for group in cat.VM_GROUPS:
            manufacturer, model, cpu_model = cat.VM_HARDWARE[group.site]
            names = self.groups.setdefault(group.prefix, [])
            for number in range(1, group.count + 1):
                name = f"{group.prefix}-{number:02d}"
                os_key = _weighted(rng, group.os)
                ci = self.add(
                    CIPlan(
                        name=name,
                        ci_type="virtual-machine",
                        site=group.site,
                        department=cat.IT_OPERATIONS,
                        owner=cat.INFRA_LEAD,
                        description=f"{group.description} ({group.environment}).",
                        hostname=name,
                        uuid=make_uuid(name),
                        status=group.statuses.get(number, CIStatus.PRODUCTION),
                        attributes={
                            **self._os_attributes(os_key),
                            "manufacturer": manufacturer,
                            "model": model,
                            "cpu_model": cpu_model,
                            "cpu_cores": group.cpu_cores,
                            "memory_mb": group.memory_mb,
                            "environment": group.environment,
                        },
                        roles=[(self._admin_for(os_key), CIRoleKind.SYSTEMS_MANAGER)],
                    )
                )
                self.install(ci, os_key, group.packages)
                names.append(name)
                hosts = hypervisors[group.site]
                self.link(hosts[placed[group.site] % len(hosts)], "hosts", name)
                placed[group.site] += 1
                if group.load_balancer:
                    self.link(group.load_balancer, "connects", name)

    def plan_databases(self) -> None:
        for spec in cat.DATABASES:
            hosts = [h for ref in spec.hosted_on for h in self.members(ref)]
            version = spec.engine_version
            package = DATABASE_PACKAGES.get(spec.engine)
            for installed_name, _vendor, installed in self.cis[hosts[0]].software if hosts else ():
                if installed_name == package:
                    version = installed
            self.add(
                CIPlan(
                    name=spec.name,
                    ci_type="database",
                    site=self.cis[hosts[0]].site if hosts else None,
                    department=cat.IT_OPERATIONS,
                    owner=cat.DBA,
                    description=spec.description,
                    attributes={
                        "engine": spec.engine,
                        "engine_version": version,
                        "size_gb": spec.size_gb,
                    },
                    roles=[(cat.DBA, CIRoleKind.DATABASE_ADMINISTRATOR)],
                )
            )
            for host in hosts:
                self.link(host, "hosts", spec.name)
                dba = (cat.DBA, CIRoleKind.DATABASE_ADMINISTRATOR)
                if dba not in self.cis[host].roles:
                    self.cis[host].roles.append(dba)

    def plan_services(self) -> None:
        person = {p.username: p for p in self.people}
        for spec in cat.APPLICATIONS:
            attributes = {"vendor": spec.vendor, "version": spec.version}
            if spec.url:
                attributes["url"] = spec.url
            hosts = [h for ref in spec.hosted_on for h in self.members(ref)]
            self.add(
                CIPlan(
                    name=spec.name,
                    ci_type="application",
                    site=self.cis[hosts[0]].site if hosts else None,
                    department=person[spec.owner].department,
                    owner=spec.owner,
                    description=f"{spec.vendor} {spec.version}".strip(),
                    status=spec.status,
                    attributes=attributes,
                    roles=[
                        (spec.admin, CIRoleKind.APPLICATION_ADMINISTRATOR),
                        (spec.owner, CIRoleKind.BUSINESS_OWNER),
                    ],
                )
            )
            for host in hosts:
                self.link(host, "hosts", spec.name)
                if (spec.admin, CIRoleKind.APPLICATION_ADMINISTRATOR) not in self.cis[host].roles:
                    self.cis[host].roles.append((spec.admin, CIRoleKind.APPLICATION_ADMINISTRATOR))
        for spec in cat.DATABASES:
            for app in spec.provides_to:
                self.link(spec.name, "provides", app)
        for spec in cat.BUSINESS_SERVICES:
            self.add(
                CIPlan(
                    name=spec.name,
                    ci_type="business-service",
                    department=person[spec.owner].department,
                    owner=spec.owner,
                    description=spec.description,
                    attributes={"criticality": spec.criticality, "sla_hours": spec.sla_hours},
                    roles=[
                        (spec.owner, CIRoleKind.BUSINESS_OWNER),
                        (cat.DESK_LEAD, CIRoleKind.SUPPORT_CONTACT),
                    ],
                )
            )
        for spec in cat.APPLICATIONS:
            for service in spec.supports:
                self.link(spec.name, "supports", service)
            for app in spec.required_by:
                self.link(spec.name, "required-by", app)

    # end-user devices

    def plan_computers(self, desktops: int, laptops: int) -> None:
        """Give each person a desktop or a laptop, then fill up with stock and shared machines."""
        rng = self.rng["endpoints"]
        quota = {"desktop": desktops, "laptop": laptops}
        numbers = Counter()
        office_sites = [s.code for s in cat.SITES if s.office]

        def computer(kind: str, site: str, owner: PersonPlan | None, status: str, note: str):
            numbers[(site, kind)] += 1
            name = f"{site}-{'dt' if kind == 'desktop' else 'lt'}-{numbers[(site, kind)]:04d}"
            department = owner.department if owner else None
            if kind == "laptop" and department in cat.MAC_DEPARTMENTS and rng.random() < 0.5:
                model = rng.choice(cat.MAC_LAPTOP_MODELS)
                os_key = _weighted(rng, cat.MAC_OS)
            else:
                model = rng.choice(cat.DESKTOP_MODELS if kind == "desktop" else cat.LAPTOP_MODELS)
                os_key = _weighted(rng, model.os)
            ci = self.add(
                CIPlan(
                    name=name,
                    ci_type=kind,
                    site=site,
                    department=department,
                    owner=owner.username if owner else None,
                    description=note or (f"{owner.full_name}'s {kind}." if owner else ""),
                    status=status,
                    uuid=make_uuid(name),
                    attributes={
                        **self._os_attributes(os_key),
                        "manufacturer": model.manufacturer,
                        "model": model.model,
                        "cpu_model": model.cpu_model,
                        "cpu_cores": model.cpu_cores,
                        "memory_mb": rng.choice(model.memory_mb),
                    },
                    **self.hardware_identity(name, model.serial),
                )
            )
            self.install_desktop_apps(ci, cat.OS_PROFILES[os_key].platform)
            if kind == "desktop" and ci.live:
                switches = cat.ACCESS_SWITCHES[site]
                self.link(switches[numbers[(site, kind)] % len(switches)], "connects", name)

        # Ordinary staff first: they are the incident callers, even in a small demo.
        users = sorted((p for p in self.people if not p.is_superuser), key=lambda p: bool(p.groups))
        for person in users[: desktops + laptops]:
            dept = self.departments[person.department]
            kind = "laptop" if rng.random() < dept.laptop_share else "desktop"
            if quota[kind] == 0:
                kind = "laptop" if kind == "desktop" else "desktop"
            quota[kind] -= 1
            status = CIStatus.UNDER_REPAIR if rng.random() < 0.05 else CIStatus.PRODUCTION
            computer(kind, dept.site, person, status, "")
        spare_statuses = [
            (CIStatus.ORDERED, "On order for a new starter."),
            (CIStatus.RECEIVED, "In stock, awaiting imaging."),
            (CIStatus.UNDER_TEST, "Being imaged and tested."),
            (CIStatus.PRODUCTION, "Shared machine (hot desk or meeting room)."),
            (CIStatus.DISPOSED, "Retired; wiped and sent for recycling."),
        ]
        for kind in ("desktop", "laptop"):
            for _ in range(quota[kind]):
                status, note = rng.choices(spare_statuses, weights=[2, 2, 1.5, 2, 2.5])[0]
                computer(kind, rng.choice(office_sites), None, status, note)

    def plan_phones(self, count: int) -> None:
        rng = self.rng["endpoints"]
        users = [p for p in self.people if not p.is_superuser]
        # Weighted sample without replacement (Efraimidis-Spirakis).
        keyed = sorted(
            users,
            key=lambda p: (
                rng.random() ** (1 / (3 if p.department in cat.PHONE_HEAVY_DEPARTMENTS else 1))
            ),
            reverse=True,
        )
        numbers = Counter()
        for index in range(count):
            owner = keyed[index] if index < len(keyed) else None
            roll = rng.random()
            status = CIStatus.PRODUCTION
            if roll < 0.08:  # a few on order or retired, nobody's
                status, owner = (CIStatus.ORDERED if roll < 0.04 else CIStatus.DISPOSED), None
            site = self.departments[owner.department].site if owner else "lon"
            numbers[site] += 1
            name = f"{site}-mob-{numbers[site]:04d}"
            model = rng.choice(cat.PHONE_MODELS)
            description = f"Company mobile of {owner.full_name}." if owner else "Spare mobile."
            self.add(
                CIPlan(
                    name=name,
                    ci_type="phone",
                    site=site,
                    department=owner.department if owner else None,
                    owner=owner.username if owner else None,
                    description=description,
                    status=status,
                    serial_number=make_serial(cat.IMEI, name),
                    asset_tag=self.asset_tag(name),
                    attributes={
                        "os": model.os,
                        "os_version": _weighted(rng, model.os_versions),
                        "model": model.model,
                    },
                )
            )

    def plan_printers(self, count: int) -> None:
        rng = self.rng["endpoints"]
        office_sites = [s for s in cat.SITES if s.office]
        numbers = Counter()
        for index in range(count):
            site = office_sites[index % len(office_sites)]
            site_departments = [d.name for d in cat.DEPARTMENTS if d.site == site.code]
            numbers[site.code] += 1
            name = f"{site.code}-prn-{numbers[site.code]:02d}"
            model = rng.choice(cat.PRINTER_MODELS)
            department = site_departments[(numbers[site.code] - 1) % len(site_departments)]
            ci = self.add(
                CIPlan(
                    name=name,
                    ci_type="printer",
                    site=site.code,
                    department=department,
                    description=f"{department} printer, {site.name}.",
                    status=CIStatus.UNDER_REPAIR if rng.random() < 0.08 else CIStatus.PRODUCTION,
                    attributes={
                        "manufacturer": model.manufacturer,
                        "model": model.model,
                        "pages": rng.randrange(5_000, 400_000),
                    },
                    **self.hardware_identity(name, model.serial),
                )
            )
            switches = cat.ACCESS_SWITCHES[site.code]
            self.link(switches[numbers[site.code] % len(switches)], "connects", ci.name)


def endpoint_counts(remaining: int) -> dict[str, int]:
    """Share `remaining` CIs among end-user device types, at least one of each (two computers)."""
    counts = {kind: int(remaining * share) for kind, share in cat.ENDPOINT_SHARES.items()}
    counts["printer"] = remaining - counts["desktop"] - counts["laptop"] - counts["phone"]
    minimum = {"desktop": 2, "laptop": 2, "phone": 1, "printer": 1}
    return {kind: max(minimum[kind], n) for kind, n in counts.items()}


def make_blueprint(*, ci_count: int = cat.DEFAULT_CI_COUNT, seed: int = cat.SEED) -> Blueprint:
    """The whole demo plan: about `ci_count` CIs (never fewer than the fixed infrastructure)."""
    planner = _Planner(seed)
    # The fixed infrastructure first: its size decides how many end-user devices fit.
    planner.plan_network()
    planner.plan_servers()
    planner.plan_vms()
    infrastructure = len(planner.cis) + len(cat.DATABASES) + len(cat.APPLICATIONS)
    infrastructure += len(cat.BUSINESS_SERVICES)
    counts = endpoint_counts(max(ci_count - infrastructure, 0))
    computers = counts["desktop"] + counts["laptop"]
    named = 1 + len(cat.ROLE_PEOPLE)
    staff = max(5, round(computers * cat.OWNED_COMPUTER_SHARE) - named)
    planner.plan_people(staff)
    planner.plan_databases()
    planner.plan_services()
    planner.plan_computers(counts["desktop"], counts["laptop"])
    planner.plan_phones(counts["phone"])
    planner.plan_printers(counts["printer"])
    cis = planner.cis
    unknown = {n for r in planner.relationships for n in (r.source, r.target) if n not in cis}
    if unknown:
        raise ValueError(f"The demo catalogue links unknown CIs: {', '.join(sorted(unknown))}")
    # Only CIs in use take part in the dependency graph; duplicates are dropped in order.
    relationships = list(
        dict.fromkeys(r for r in planner.relationships if cis[r.source].live and cis[r.target].live)
    )
    return Blueprint(
        seed=seed, people=planner.people, cis=list(cis.values()), relationships=relationships
    )
