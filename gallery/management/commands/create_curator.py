"""`manage.py create_curator USERNAME`: an admin account for museum staff, without user management.

The account is staff (may log in to the admin) and a member of the
`Curators` group, never a superuser. An existing account is made a curator
and keeps its password. A new account's password is asked for twice, or
read from the environment variable OLPE_CURATOR_PASSWORD with --no-input.
"""

from __future__ import annotations

import getpass
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

GROUP_NAME = "Curators"
PASSWORD_VARIABLE = "OLPE_CURATOR_PASSWORD"


class Command(BaseCommand):
    help = "Create a curator account (staff, member of the Curators group), or make a user one."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--no-input", action="store_false", dest="interactive",
            help=f"Do not ask; a new account's password comes from {PASSWORD_VARIABLE}.",
        )

    def handle(self, *args, username, email, interactive, **options):
        try:
            group = Group.objects.get(name=GROUP_NAME)
        except Group.DoesNotExist:
            raise CommandError(
                "The Curators group is missing: run `manage.py migrate` first."
            ) from None
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
        with transaction.atomic():
            if user is None:
                user = user_model(**{user_model.USERNAME_FIELD: username}, email=email)
                user.set_password(self._password(user, interactive))
                verb = "Created"
            else:
                verb = "Made"
            user.is_staff = True
            user.save()
            user.groups.add(group)
        self.stdout.write(self.style.SUCCESS(f"{verb} curator {username}."))

    def _password(self, user, interactive: bool) -> str:
        if interactive:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        else:
            password = os.environ.get(PASSWORD_VARIABLE, "")
            if not password:
                raise CommandError(f"Set {PASSWORD_VARIABLE} to the new account's password.")
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        return password
