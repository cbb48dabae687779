"""`manage.py seed_demo`: a believable organisation with its CMDB, created idempotently."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from cmdb.demo import catalogue, extensions
from cmdb.demo.builder import DemoDataError, seed_demo
from cmdb.models import (
    CIRole,
    CIType,
    Department,
    InstalledSoftware,
    Person,
    Relationship,
    Site,
    SoftwareVersion,
)
from itsm.exceptions import ApplicationError


class Command(BaseCommand):
    help = (
        "Create the demo organisation (sites, departments, people in every role, about 500 CIs "
        "with relationships and software). Idempotent: a second run creates only what is missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cis",
            type=int,
            default=catalogue.DEFAULT_CI_COUNT,
            help="About how many CIs to plan (default %(default)s; the fixed infrastructure "
            "of ~140 CIs is always created).",
        )
        parser.add_argument(
            "--password",
            default=catalogue.DEFAULT_PASSWORD,
            help="Password of the demo users created by this run (see `manage.py demo_logins`).",
        )

    def handle(self, *args, cis: int, password: str, **options) -> None:
        if cis < 1:
            raise CommandError("--cis must be a positive number.")
        if not password:
            raise CommandError("--password must not be empty.")
        try:
            report = seed_demo(ci_count=cis, password=password)
            extra_rows = [row for step in extensions for row in step()]
        except (DemoDataError, ApplicationError) as exc:
            raise CommandError(f"Demo data could not be created: {exc}") from exc
        if options["verbosity"] == 0:
            return
        from django.contrib.auth import get_user_model

        created = report.created
        by_type = dict(
            CIType.objects.annotate(n=Count("cis")).values_list("slug", "n").order_by("slug")
        )
        rows = [
            ("sites", created["sites"], Site.objects.count()),
            ("departments", created["departments"], Department.objects.count()),
            ("users", created["users"], get_user_model().objects.count()),
            ("people (Person)", created["people"], Person.objects.count()),
            ("configuration items", created["cis"], sum(by_type.values())),
            *(
                (f"  {slug}", created[f"cis:{slug}"], n)
                for slug, n in by_type.items()
                if n or created[f"cis:{slug}"]
            ),
            ("relationships", created["relationships"], Relationship.objects.count()),
            ("CI roles", created["ci roles"], CIRole.objects.count()),
            (
                "installed software",
                created["installed software"],
                InstalledSoftware.objects.count(),
            ),
            ("software versions", "", SoftwareVersion.objects.count()),
            ("lifecycle moves", created["lifecycle moves"], ""),
            *extra_rows,
        ]
        extra_created = sum(new for _, new, _ in extra_rows)
        self.stdout.write(f"{'':<24}{'created':>9}{'total':>9}")
        for label, new, total in rows:
            self.stdout.write(f"{label:<24}{new!s:>9}{total!s:>9}")
        for line in report.skipped:
            self.stderr.write(f"skipped {line}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready in {report.seconds:.1f} s "
                f"({sum(v for k, v in created.items() if ':' not in k) + extra_created} rows "
                "created). "
                "Logins: manage.py demo_logins"
            )
        )
