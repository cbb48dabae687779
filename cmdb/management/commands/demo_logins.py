"""`manage.py demo_logins`: the demo users to sign in as, and where."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cmdb.demo import catalogue
from cmdb.demo.logins import demo_logins


class Command(BaseCommand):
    help = "Print the demo logins (username, role, password) and the URL of the development server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=catalogue.DEFAULT_PASSWORD,
            help="The password the demo was seeded with (default: the demo default).",
        )
        parser.add_argument("--url", default=catalogue.DEV_SERVER_URL, help="Where the app runs.")

    def handle(self, *args, password: str, url: str, **options) -> None:
        logins = demo_logins(password)
        if not logins:
            raise CommandError("No demo users found: run `manage.py seed_demo` first.")
        headers = ("username", "role", "password")
        rows = [(login.username, login.role, login.password) for login in logins]
        widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(3)]

        def line(cells) -> str:
            return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

        self.stdout.write(f"{catalogue.ORGANISATION} demo: open {url}")
        self.stdout.write(line(headers))
        self.stdout.write(line("-" * w for w in widths))
        for row in rows:
            self.stdout.write(line(row))
        if any(login.password != password for login in logins):
            self.stdout.write("(changed): the user has set another password since the seed.")
