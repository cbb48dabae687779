"""Fast, idempotent generator of the CMDB dataset the benchmarks run on.

At scale 1: 100,000 CIs and 300,000 relationships, written with PostgreSQL COPY in a few
seconds. The shape is a layered IT estate, impact flowing source → target as in the app:

    network devices (core → access) ──connects──▶ servers, desktops, laptops, printers
    servers (hypervisors) ──hosts──▶ virtual machines (each on 2 hosts of its cluster)
    VMs / bare-metal servers ──hosts──▶ databases, applications
    databases ──provides──▶ applications ──required-by──▶ applications (a DAG)
    applications ──supports──▶ business services
    client applications ──required-by──▶ desktops and laptops (users' endpoints)

plus 5 % random cross links between infrastructure and software CIs, in either direction and
of any standard type, so the graph has cycles. A marker table `bench_dataset` records what
was generated; a second run with the same size reuses the data.

    python bench/generate.py [--scale 0.05] [--database-url postgres://…] [--force]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid as uuidlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH_CREATED_TYPE,
    DEFAULT_DATABASE_URL,
    INGEST_HOST_PREFIX,
    check_postgres_url,
    ensure_database,
    log,
    migrate,
    psycopg_conninfo,
)

#: Bump when the shape changes, so an old dataset of the same size is regenerated.
GENERATOR_VERSION = 1
SEED = 20240601
FULL_CIS = 100_000
FULL_RELATIONSHIPS = 300_000
CROSS_LINK_SHARE = 0.05

#: Share of the CIs per type, and the prefix of their names.
TYPE_SHARES = [
    ("network-device", 0.02, "net"),
    ("server", 0.10, "srv"),
    ("virtual-machine", 0.30, "vm"),
    ("database", 0.06, "db"),
    ("application", 0.06, "app"),
    ("business-service", 0.01, "bs"),
    ("desktop", 0.25, "pc"),
    ("laptop", 0.15, "nb"),
    ("printer", 0.05, "prn"),
]
HARDWARE = {"network-device", "server", "desktop", "laptop", "printer"}
WITH_UUID = {"server", "virtual-machine", "desktop", "laptop"}
STATUSES = [
    ("production", 0.75),
    ("under_test", 0.05),
    ("received", 0.03),
    ("ordered", 0.03),
    ("under_repair", 0.04),
    ("disposed", 0.10),
]
CI_COLUMNS = (
    "name",
    "description",
    "ci_type_id",
    "status",
    "managed",
    "serial_number",
    "asset_tag",
    "hostname",
    "uuid",
    "attributes",
    "version",
    "created",
    "updated",
)

MARKER_DDL = """
CREATE TABLE IF NOT EXISTS bench_dataset (
    id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    cis integer NOT NULL,
    relationships integer NOT NULL,
    generator_version integer NOT NULL,
    seed bigint NOT NULL,
    generated_at timestamptz NOT NULL DEFAULT now(),
    seconds double precision
)
"""


def target_sizes(scale: float) -> tuple[int, int]:
    return max(100, round(FULL_CIS * scale)), max(300, round(FULL_RELATIONSHIPS * scale))


def _type_counts(n: int) -> dict[str, int]:
    counts = {slug: max(1, int(n * share)) for slug, share, _prefix in TYPE_SHARES}
    counts["desktop"] += n - sum(counts.values())
    return counts


def _attributes(slug: str, rnd: random.Random) -> dict:
    env = rnd.choices(["production", "staging", "test", "development"], [70, 10, 15, 5])[0]
    if slug in {"server", "virtual-machine"}:
        return {
            "os": rnd.choice(
                ["Debian GNU/Linux", "Ubuntu", "Red Hat Enterprise Linux", "Windows Server"]
            ),
            "os_version": rnd.choice(["12", "22.04", "9.4", "2022"]),
            "environment": env,
            "cpu_cores": rnd.choice([2, 4, 8, 16, 32, 64]),
            "memory_mb": rnd.choice([4096, 8192, 16384, 65536, 262144]),
        }
    if slug == "network-device":
        return {
            "device_role": rnd.choice(["switch", "switch", "router", "firewall", "load_balancer"]),
            "model": rnd.choice(["C9300", "EX4400", "SRX345", "BIG-IP i5800"]),
            "firmware": f"{rnd.randint(10, 17)}.{rnd.randint(0, 9)}",
        }
    if slug == "database":
        return {
            "engine": rnd.choice(["postgresql", "mysql", "oracle", "sqlserver", "redis"]),
            "engine_version": str(rnd.randint(8, 17)),
            "size_gb": rnd.randint(1, 4000),
        }
    if slug == "application":
        return {
            "vendor": rnd.choice(["in-house", "SAP", "Atlassian", "Microsoft"]),
            "version": f"{rnd.randint(1, 9)}.{rnd.randint(0, 20)}",
        }
    if slug == "business-service":
        return {
            "criticality": rnd.choice(["low", "medium", "high", "critical"]),
            "sla_hours": rnd.choice([4, 8, 24, 72]),
        }
    if slug in {"desktop", "laptop"}:
        return {
            "os": "Windows",
            "os_version": "11",
            "model": rnd.choice(["EliteDesk 800", "ThinkPad T14", "Latitude 7440"]),
            "memory_mb": 16384,
        }
    return {"model": rnd.choice(["LaserJet M507", "imageRUNNER C3226"])}


def _ci_rows(counts: dict[str, int], type_ids: dict[str, int], rnd: random.Random):
    now = datetime.now(UTC)
    statuses, weights = zip(*STATUSES, strict=True)
    for slug, _share, prefix in TYPE_SHARES:
        for i in range(counts[slug]):
            name = f"{prefix}-{i:06d}"
            created = now - timedelta(days=rnd.randint(0, 1500), seconds=rnd.randint(0, 86399))
            updated = created + timedelta(days=rnd.randint(0, 30))
            yield (
                name,
                "",
                type_ids[slug],
                rnd.choices(statuses, weights)[0],
                True,
                f"SN-{prefix.upper()}-{i:07d}" if slug in HARDWARE else "",
                f"AT{type_ids[slug]:02d}{i:07d}" if slug in HARDWARE else "",
                f"{name}.example.net" if slug in HARDWARE | {"virtual-machine"} else "",
                str(uuidlib.UUID(int=rnd.getrandbits(128), version=4)) if slug in WITH_UUID else "",
                json.dumps(_attributes(slug, rnd)),
                1,
                created,
                min(updated, now),
            )


def _relationships(
    ids: dict[str, list[int]], total: int, rel_ids: dict[str, int], rnd: random.Random
):
    """(source, target, type_id) triples: the layered estate, then cross links to `total`."""
    edges: set[tuple[int, int, int]] = set()
    connects, hosts = rel_ids["connects"], rel_ids["hosts"]
    provides, supports, required_by = (
        rel_ids["provides"],
        rel_ids["supports"],
        rel_ids["required-by"],
    )

    def add(source: int, target: int, type_id: int) -> None:
        if source != target:
            edges.add((source, target, type_id))

    net, servers, vms = ids["network-device"], ids["server"], ids["virtual-machine"]
    dbs, apps, services = ids["database"], ids["application"], ids["business-service"]
    endpoints = ids["desktop"] + ids["laptop"] + ids["printer"]
    users = ids["desktop"] + ids["laptop"]

    # Network: the first 10 % are core/distribution devices, each access device has 2 uplinks.
    n_core = max(1, len(net) // 10)
    core, access = net[:n_core], net[n_core:] or net
    for device in net[1:]:
        for parent in rnd.sample(core, min(2, len(core))):
            add(parent, device, connects)
    for server in servers:  # redundant NICs: two access switches
        for switch in rnd.sample(access, min(2, len(access))):
            add(switch, server, connects)
    for endpoint in endpoints:
        add(rnd.choice(access), endpoint, connects)

    # Compute: 70 % of servers are hypervisors in clusters of 8; each VM runs on 2 of them.
    n_hyper = max(1, int(len(servers) * 0.7))
    hypervisors, bare_metal = servers[:n_hyper], servers[n_hyper:] or servers
    clusters = [hypervisors[i : i + 8] for i in range(0, len(hypervisors), 8)]
    for vm in vms:
        cluster = rnd.choice(clusters)
        for host in rnd.sample(cluster, min(2, len(cluster))):
            add(host, vm, hosts)
    for db in dbs:  # a VM (80 %) or a bare-metal server; 10 % have a replica host
        for _ in range(2 if rnd.random() < 0.1 else 1):
            add(rnd.choice(vms) if rnd.random() < 0.8 else rnd.choice(bare_metal), db, hosts)
    for app in apps:
        for _ in range(rnd.randint(1, 5)):
            add(rnd.choice(vms) if rnd.random() < 0.9 else rnd.choice(bare_metal), app, hosts)
        for _ in range(rnd.randint(1, 3)):
            add(rnd.choice(dbs), app, provides)
        for _ in range(rnd.choice([1, 1, 2])):
            add(app, rnd.choice(services), supports)
    # Applications depend on applications: a DAG (dependencies have the lower index).
    for index, app in enumerate(apps[1:], start=1):
        for _ in range(rnd.randint(0, 4)):
            add(apps[rnd.randrange(index)], app, required_by)

    # Random cross links among infrastructure and software CIs, either direction: cycles.
    n_cross = round(total * CROSS_LINK_SHARE)
    pool = net + servers + vms + dbs + apps + services
    type_choices = list(rel_ids.values())
    cross = 0
    while cross < n_cross:
        before = len(edges)
        add(rnd.choice(pool), rnd.choice(pool), rnd.choice(type_choices))
        cross += len(edges) - before

    # The rest: client applications used by users' desktops and laptops (leaves of the graph).
    client_apps = apps[: max(1, len(apps) // 2)]
    while len(edges) < total:
        add(rnd.choice(client_apps), rnd.choice(users), required_by)
    return edges


def dataset_matches(conn, cis: int, relationships: int) -> bool:
    conn.execute(MARKER_DDL)
    marker = conn.execute(
        "SELECT cis, relationships, generator_version FROM bench_dataset WHERE id = 1"
    ).fetchone()
    if marker != (cis, relationships, GENERATOR_VERSION):
        return False
    actual_cis = conn.execute(
        "SELECT count(*) FROM cmdb_configurationitem ci JOIN cmdb_citype t ON t.id = ci.ci_type_id "
        "WHERE t.slug <> %s AND ci.hostname NOT LIKE %s",
        [BENCH_CREATED_TYPE, INGEST_HOST_PREFIX + "%"],
    ).fetchone()[0]
    actual_rels = conn.execute("SELECT count(*) FROM cmdb_relationship").fetchone()[0]
    return (actual_cis, actual_rels) == (cis, relationships)


def _wipe(conn, force: bool) -> None:
    has_marker = conn.execute("SELECT count(*) FROM bench_dataset").fetchone()[0] > 0
    existing = conn.execute(
        "SELECT count(*) FROM cmdb_configurationitem ci JOIN cmdb_citype t ON t.id = ci.ci_type_id "
        "WHERE t.slug <> %s AND ci.hostname NOT LIKE %s",
        [BENCH_CREATED_TYPE, INGEST_HOST_PREFIX + "%"],
    ).fetchone()[0]
    if existing and not has_marker and not force:
        raise SystemExit(
            f"bench: the database holds {existing} CIs that bench/generate.py did not make; "
            "refusing to wipe them (use a dedicated bench database, or --force)."
        )
    if existing or has_marker:
        log("wiping the previous dataset")
        # CASCADE also empties tables pointing at CIs (history, incidents' links…): bench data only.
        conn.execute(
            "TRUNCATE cmdb_relationship, cmdb_configurationitem, bench_dataset RESTART IDENTITY CASCADE"
        )


def generate(database_url: str, scale: float = 1.0, force: bool = False) -> dict[str, int]:
    """Make sure the dataset of this scale exists; returns {"cis": …, "relationships": …}."""
    import psycopg

    n_cis, n_rels = target_sizes(scale)
    sizes = {"cis": n_cis, "relationships": n_rels}
    with psycopg.connect(psycopg_conninfo(database_url)) as conn:
        if dataset_matches(conn, n_cis, n_rels) and not force:
            conn.commit()
            log(f"reusing the dataset of {n_cis} CIs and {n_rels} relationships")
            return sizes
        started = time.monotonic()
        conn.execute("SET synchronous_commit = off")
        _wipe(conn, force)
        rnd = random.Random(SEED)
        type_ids = dict(conn.execute("SELECT slug, id FROM cmdb_citype").fetchall())
        rel_ids = dict(conn.execute("SELECT slug, id FROM cmdb_relationshiptype").fetchall())
        missing = {slug for slug, _s, _p in TYPE_SHARES} - set(type_ids)
        if missing or len(rel_ids) < 5:
            raise SystemExit(
                f"bench: standard CI/relationship types missing ({missing}); migrate first"
            )
        rel_ids = {
            slug: rel_ids[slug]
            for slug in ("hosts", "connects", "provides", "supports", "required-by")
        }
        counts = _type_counts(n_cis)

        with (
            conn.cursor() as cursor,
            cursor.copy(
                f"COPY cmdb_configurationitem ({', '.join(CI_COLUMNS)}) FROM STDIN"
            ) as copy,
        ):
            for row in _ci_rows(counts, type_ids, rnd):
                copy.write_row(row)
        log(f"copied {n_cis} CIs in {time.monotonic() - started:.1f}s")

        slug_by_id = {v: k for k, v in type_ids.items()}
        ids: dict[str, list[int]] = {slug: [] for slug, _s, _p in TYPE_SHARES}
        for pk, type_id in conn.execute(
            "SELECT id, ci_type_id FROM cmdb_configurationitem ORDER BY id"
        ):
            slug = slug_by_id[type_id]
            if slug in ids:
                ids[slug].append(pk)
        edges = _relationships(ids, n_rels, rel_ids, rnd)
        log(f"built {len(edges)} relationships in memory at {time.monotonic() - started:.1f}s")
        now = datetime.now(UTC)
        ordered = sorted(edges)
        rnd.shuffle(ordered)  # ids not correlated with source order, as in a real CMDB
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY cmdb_relationship (source_id, target_id, type_id, created) FROM STDIN"
            ) as copy,
        ):
            for source, target, type_id in ordered:
                copy.write_row((source, target, type_id, now))
        log(f"copied {len(edges)} relationships at {time.monotonic() - started:.1f}s")
        seconds = time.monotonic() - started
        conn.execute(
            "INSERT INTO bench_dataset (id, cis, relationships, generator_version, seed, seconds) "
            "VALUES (1, %s, %s, %s, %s, %s)",
            [n_cis, n_rels, GENERATOR_VERSION, SEED, seconds],
        )
        conn.commit()
    with psycopg.connect(psycopg_conninfo(database_url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cmdb_configurationitem")
        conn.execute("VACUUM ANALYZE cmdb_relationship")
        conn.execute("ANALYZE cmdb_citype")
        conn.execute("ANALYZE cmdb_relationshiptype")
    log(f"dataset ready in {time.monotonic() - started:.1f}s (COPY + VACUUM ANALYZE)")
    return sizes


def prepare(database_url: str, scale: float = 1.0, *, force: bool = False, do_migrate: bool = True):
    """The whole setup: database created, migrated, dataset generated (or reused)."""
    check_postgres_url(database_url)
    ensure_database(database_url)
    if do_migrate:
        migrate(database_url)
    return generate(database_url, scale, force)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--force", action="store_true", help="regenerate even if present")
    parser.add_argument("--no-migrate", action="store_true")
    args = parser.parse_args(argv)
    sizes = prepare(args.database_url, args.scale, force=args.force, do_migrate=not args.no_migrate)
    print(json.dumps(sizes))


if __name__ == "__main__":
    main()
