"""`manage.py create_enrollment_token --user NAME [--hours H] [--auto-approve] [--policy NAME]`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from agents import services
from agents.models import AgentGroup
from cmdb.choices import ChangeSource
from cmdb.history import ChangeContext
from itsm.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create a one-time agent enrolment token on behalf of a CMDB Manager and print it once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--user", required=True, help="Username of the CMDB Manager creating the token."
        )
        parser.add_argument(
            "--hours", type=float, default=24, help="Validity in hours (default 24)."
        )
        parser.add_argument(
            "--auto-approve",
            action="store_true",
            help="Agents enrolled with it are active at once.",
        )
        parser.add_argument(
            "--policy", help="Collection policy (agent group) for agents enrolled with it."
        )
        parser.add_argument("--note", default="", help="What the token is for.")

    def handle(self, *args, **options):
        try:
            user = get_user_model().objects.get(username=options["user"])
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"No user {options['user']!r}.") from exc
        group = None
        if options["policy"]:
            group = AgentGroup.objects.filter(name=options["policy"]).first()
            if group is None:
                raise CommandError(f"No policy {options['policy']!r}.")
        try:
            secret, token = services.enrollment_token_create(
                context=ChangeContext(
                    actor=user, source=ChangeSource.SYSTEM, source_ref="manage.py"
                ),
                expires_in_hours=options["hours"],
                auto_approve=options["auto_approve"],
                group=group,
                note=options["note"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(secret)
        self.stderr.write(
            f"Expires {token.expires:%Y-%m-%d %H:%M %Z}; shown once, only its hash is kept."
        )
