"""Give a user a new TOTP secret: `manage.py totp_enroll alice`.

Prints the secret and the otpauth:// URI to load into an authenticator app.
Any earlier secret stops working.
"""

import pyotp
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from riskadmin.services import enroll_totp


class Command(BaseCommand):
    help = "Create or replace a user's TOTP secret (needed above requires_2fa_above)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--issuer", default="Trade engine")

    def handle(self, *args, username: str, issuer: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        secret = enroll_totp(user_id=user.id)
        self.stdout.write(f"secret: {secret}")
        self.stdout.write(f"uri:    {pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)}")
