"""`manage.py export_cis [--relationships] [--filter key=value …] > file.csv`: CSV export.

Filters are those of the CI list / API (`--filter status=production --filter ci_type=server`),
or of the relationship list with --relationships. Streams: memory stays flat on large CMDBs.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.http import QueryDict

from cmdb import imports
from cmdb.filtersets import CIFilterSet, RelationshipFilterSet
from cmdb.models import ConfigurationItem, Relationship


class Command(BaseCommand):
    help = "Export CIs (or relationships) as CSV on standard output, re-importable as is."

    def add_arguments(self, parser):
        parser.add_argument(
            "--relationships", action="store_true", help="export relationships instead of CIs"
        )
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a filter of the list (repeatable), e.g. status=production",
        )
        parser.add_argument("-o", "--output", help="write to this file instead of stdout")

    def handle(self, *args, **options):
        query = QueryDict(mutable=True)
        for item in options["filter"]:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise CommandError(f"--filter takes KEY=VALUE, not {item!r}.")
            query.appendlist(key.strip(), value)
        if options["relationships"]:
            filterset = RelationshipFilterSet(query or None, queryset=Relationship.objects.all())
            export = imports.export_relationships
        else:
            filterset = CIFilterSet(query or None, queryset=ConfigurationItem.objects.all())
            export = imports.export_cis
        unknown = sorted(set(query) - set(filterset.base_filters))
        if unknown:
            raise CommandError(
                f"Unknown filters: {', '.join(unknown)}. Known: {', '.join(filterset.base_filters)}."
            )
        if filterset.is_bound and not filterset.is_valid():
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items())
            raise CommandError(f"Invalid filters: {problems}")
        lines = export(filterset.qs.order_by("id"))
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as handle:
                handle.writelines(lines)
        else:
            for line in lines:
                self.stdout.write(line, ending="")
