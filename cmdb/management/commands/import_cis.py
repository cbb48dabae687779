"""`manage.py import_cis FILE [--dry-run] [--match-on KEY] [--relationships] [--user NAME]`: CSV import, all or nothing.

--match-on (none, id, serial_number, asset_tag, hostname, uuid) is the key a row is matched to
an existing CI on; by default `id` when the file has an id column, else `none` (create only).

FILE `-` reads standard input. Without --user the import runs as the system (no permission
check), recorded with source "import". Bad rows are listed on stderr and the command exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from cmdb import imports
from cmdb.choices import ChangeSource
from cmdb.history import ChangeContext
from itsm.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Import CIs (or relationships) from a CSV file; every row is checked before writing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file, or - for standard input")
        parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")
        parser.add_argument(
            "--relationships", action="store_true", help="the file holds relationships"
        )
        parser.add_argument("--user", help="act as this user (checks their permissions)")
        parser.add_argument(
            "--match-on",
            choices=imports.MATCH_CHOICES,
            help="the key rows are matched to existing CIs on (default: id when the file has "
            "an id column, else none: every row creates a CI)",
        )

    def handle(self, *args, **options):
        path = options["file"]
        if path == "-":
            data = sys.stdin.buffer.read(imports.MAX_IMPORT_BYTES + 1)
            name = "stdin"
        else:
            file = Path(path)
            if not file.is_file():
                raise CommandError(f"No such file: {path}")
            with file.open("rb") as handle:
                data = handle.read(imports.MAX_IMPORT_BYTES + 1)
            name = file.name
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No user {options['user']!r}.")
        context = ChangeContext(
            actor=actor,
            source=ChangeSource.IMPORT,
            source_ref=f"manage.py import_cis {name}"[:100],
        )
        kind = "relationships" if options["relationships"] else "cis"
        if kind == "relationships" and options["match_on"]:
            raise CommandError("--match-on is for CI imports only.")
        try:
            result = imports.import_csv(
                context=context,
                kind=kind,
                data=data,
                dry_run=options["dry_run"],
                match_on=options["match_on"],
            )
        except ApplicationError as exc:
            for row in exc.extra.get("row_errors", []):
                self._print_row_errors(row)
            raise CommandError(exc.message) from exc
        for row in result.row_errors:
            self._print_row_errors(row)
        if not result.ok:
            raise CommandError(result.summary())
        for planned in result.rows:
            if planned["action"] == "update" and (options["dry_run"] or options["verbosity"] > 1):
                changes = ", ".join(
                    f"{name}: {change['old']!r} → {change['new']!r}"
                    for name, change in planned["changes"].items()
                )
                self.stdout.write(f"row {planned['row']}: CI {planned['id']}: {changes}")
        self.stdout.write(self.style.SUCCESS(result.summary()))

    def _print_row_errors(self, row: dict) -> None:
        for column, problems in row["errors"].items():
            self.stderr.write(f"row {row['row']}: {column}: {' '.join(problems)}")
