"""Re-encrypt every API key secret with the newest encryption key.

Rotation: put a new Fernet key first in API_KEY_ENCRYPTION_KEYS (or the
first line of .secrets/api-key-encryption-keys), restart, run
`manage.py rotate_api_key_secrets`, then drop the old key and restart
again. Keys keep working throughout (every listed key decrypts).
"""

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError

from apikeys.services import reencrypt_all_secrets


class Command(BaseCommand):
    help = "Re-encrypt all API key secrets with the first key of API_KEY_ENCRYPTION_KEYS."

    def handle(self, *args, **options) -> None:
        try:
            count = reencrypt_all_secrets()
        except InvalidToken:
            raise CommandError(
                "a stored secret opens with none of API_KEY_ENCRYPTION_KEYS: keep the old key listed "
                "(after the new one) until this command has run"
            ) from None
        self.stdout.write(f"re-encrypted {count} API key secret(s) with the newest key")
