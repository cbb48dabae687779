"""`manage.py drf_create_token <user>`: Django REST framework's command, on hashed tokens.

It prints `Generated token <key> for user <user>` as before (scripts rely on that line). As
only the hash is stored, an existing key cannot be shown again: every run makes a new token
(named "drf_create_token"); `--reset` first revokes the tokens this command made before.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from itsm import tokens
from itsm.models import ApiToken

TOKEN_NAME = "drf_create_token"


class Command(BaseCommand):
    help = "Create an API token for a user and print it (the key is shown only now)."

    def add_arguments(self, parser):
        parser.add_argument("username", type=str)
        parser.add_argument(
            "-r",
            "--reset",
            action="store_true",
            dest="reset_token",
            default=False,
            help="Revoke the tokens this command created for the user before, then create one.",
        )

    def handle(self, *args, **options):
        username = options["username"]
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist as exc:
            raise CommandError(f"Cannot create the Token: user {username} does not exist") from exc
        if options["reset_token"]:
            ApiToken.objects.filter(user=user, name=TOKEN_NAME).delete()
        key, _ = tokens.api_token_create(actor=user, user=user, name=TOKEN_NAME)
        self.stdout.write(f"Generated token {key} for user {username}")
