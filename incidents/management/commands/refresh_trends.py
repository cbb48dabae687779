"""`manage.py refresh_trends [--since YYYY-MM-DD]`: bring the trend summary table up to date."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from incidents.trends import refresh


class Command(BaseCommand):
    help = (
        "Recompute the incident trend summary: the days touched since the last run, or every "
        "day from --since on."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="Recompute every day from this date (YYYY-MM-DD).")

    def handle(self, *args, since=None, **options):
        day = None
        if since:
            try:
                day = dt.date.fromisoformat(since)
            except ValueError as exc:
                raise CommandError(f"--since: not a date (YYYY-MM-DD): {since}") from exc
        days = refresh(since=day)
        self.stdout.write(f"Recomputed {days} day(s) of incident counts.")
