"""Benchmark of the CSV import and export (cmdb/imports/), on a throw-away test database.

    python bench/import_csv.py [--scale 1.0] [--database-url postgres://…]

At scale 1: a file of 10,000 new CIs (every column, attributes typed by the schema) is checked
(dry run), imported, exported, re-imported unchanged, re-imported with one change per row, then
20,000 relationships are imported. Each step prints one JSON line on stdout:
`{"bench": "import", "case": "create", "metric": "seconds", "value": 1.9, "n": 10000, "db": …}`.
Without --database-url (or DATABASE_URL) it runs on a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FULL_ROWS = 10_000
SCHEMA = {
    "type": "object",
    "properties": {
        "os": {"type": "string"},
        "cpu_cores": {"type": "integer", "minimum": 1},
        "memory_mb": {"type": "integer", "minimum": 0},
        "virtual": {"type": "boolean"},
    },
    "required": ["os"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    args = parser.parse_args()
    rows = max(10, int(FULL_ROWS * args.scale))

    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")
    tmp = tempfile.TemporaryDirectory()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
        os.environ.setdefault("TEST_DB_NAME", "test_bench_import")
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    if not args.database_url:  # a file, not the in-memory database tests use
        settings.DATABASES["default"]["TEST"]["NAME"] = str(Path(tmp.name) / "bench.sqlite3")
    print("creating the test database…", file=sys.stderr)
    old = setup_databases(verbosity=0, interactive=False)
    try:
        run(rows)
    finally:
        teardown_databases(old, verbosity=0)
        tmp.cleanup()


def emit(case: str, seconds: float, n: int, **extra) -> None:
    from django.db import connection

    for metric, value in (("seconds", round(seconds, 3)), ("rows_per_s", round(n / seconds, 1))):
        record = {"bench": "import", "case": case, "metric": metric, "value": value, "n": n}
        print(json.dumps({**record, "db": connection.vendor, **extra}), flush=True)


def timed(label: str, func):
    start = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - start
    print(f"{label}: {elapsed:.2f}s", file=sys.stderr)
    return result, elapsed


def run(n: int) -> None:
    from django.contrib.auth.models import Group, User

    from cmdb import imports
    from cmdb.choices import ChangeSource
    from cmdb.history import ChangeContext
    from cmdb.models import CIType, ConfigurationItem, Department, RelationshipType, Site
    from itsm import roles

    user = User.objects.create_user("bench-importer")
    user.groups.add(Group.objects.get(name=roles.CMDB_MANAGER))
    for i in range(20):
        User.objects.create_user(f"owner{i}")
        Department.objects.create(name=f"Department {i}")
        Site.objects.create(name=f"Site {i}", slug=f"site-{i}")
    CIType.objects.create(name="Bench server", slug="bench-server", attribute_schema=SCHEMA)
    RelationshipType.objects.get_or_create(
        slug="bench-hosts",
        defaults={"name": "Bench hosts", "forward_label": "hosts", "reverse_label": "runs on"},
    )
    context = ChangeContext(actor=user, source=ChangeSource.IMPORT, source_ref="bench")

    header = (
        "name,ci_type,status,managed,owner,department,site,serial_number,asset_tag,hostname,"
        "uuid,description,attr:os,attr:cpu_cores,attr:memory_mb,attr:virtual"
    )
    lines = [header]
    for i in range(n):
        lines.append(
            f"srv{i:06d},bench-server,production,yes,owner{i % 20},Department {i % 20},"
            f"site-{i % 20},SN{i:08d},AT{i:08d},srv{i:06d}.example.org,"
            f"4c4c4544-0000-0000-0000-{i:012d},Server number {i},Debian 12,{1 + i % 64},"
            f"{1024 * (1 + i % 32)},{'true' if i % 2 else 'false'}"
        )
    data = ("\n".join(lines) + "\n").encode()

    def load(text, kind="cis", dry_run=False):
        result = imports.import_csv(context=context, kind=kind, data=text, dry_run=dry_run)
        assert result.ok, result.row_errors[:5]
        return result

    result, seconds = timed("dry run", lambda: load(data, dry_run=True))
    assert result.created == n
    emit("dry_run_create", seconds, n)
    result, seconds = timed("create", lambda: load(data))
    assert result.created == n and ConfigurationItem.objects.count() == n
    emit("create", seconds, n, bytes=len(data))

    exported, seconds = timed(
        "export",
        lambda: "".join(imports.export_cis(ConfigurationItem.objects.order_by("id"))),
    )
    emit("export", seconds, n)
    result, seconds = timed("unchanged", lambda: load(exported))
    assert result.unchanged == n
    emit("reimport_unchanged", seconds, n)

    changed = exported.replace(",Debian 12,", ",Debian 13,").replace(
        '"{""cpu_cores""', '"{""cpu_cores""'
    )
    changed = changed.replace('""os"": ""Debian 12""', '""os"": ""Debian 13""')
    result, seconds = timed("update", lambda: load(changed))
    assert result.updated == n, (result.updated, result.unchanged)
    emit("update", seconds, n)

    ids = list(ConfigurationItem.objects.order_by("id").values_list("id", flat=True))
    rel_lines = ["source,target,type"]
    for index, source in enumerate(ids):
        for step in (1, 2):
            rel_lines.append(f"{source},{ids[(index + step) % len(ids)]},bench-hosts")
    rel_data = "\n".join(rel_lines) + "\n"
    result, seconds = timed("relationships", lambda: load(rel_data, kind="relationships"))
    assert result.created == len(rel_lines) - 1
    emit("relationships_create", seconds, len(rel_lines) - 1)


if __name__ == "__main__":
    main()
