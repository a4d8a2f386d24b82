"""Secrets are stored encrypted, the encryption key rotates without losing
them, and no process outside DEBUG runs with the published key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from apikeys import services
from apikeys.models import ApiKey

from .conftest import make_key, signed_client

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = "9pgvswdqa6yMvIYhNjNTqKluaHi8p2t37qGNq4jQTPA="
PRINT_KEYS = "import django; django.setup(); from django.conf import settings; print(*settings.API_KEY_ENCRYPTION_KEYS)"


def stored_column(key_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT encrypted_secret FROM apikeys_apikey WHERE id = %s", [key_id])
        return cursor.fetchone()[0]


def test_the_database_holds_no_secret_in_clear(alice):
    created = make_key(alice)

    stored = stored_column(created.key.id)
    assert created.secret not in stored
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM apikeys_apikey WHERE row_to_json(apikeys_apikey)::text LIKE %s",
                       [f"%{created.secret}%"])
        assert cursor.fetchone()[0] == 0
    assert services.secret_of(ApiKey.objects.get(id=created.key.id)) == created.secret


def test_rotation_keeps_old_secrets_verifiable_and_moves_them_to_the_new_key(alice, settings):
    old_key = settings.API_KEY_ENCRYPTION_KEYS[0]
    before = make_key(alice)
    new_key = Fernet.generate_key().decode()

    settings.API_KEY_ENCRYPTION_KEYS = [new_key, old_key]  # the new key first, the old one still listed
    assert signed_client(before).get("/api/v1/balances").status_code == 200
    after = make_key(alice)  # encrypted with the new key already
    out = StringIO()
    call_command("rotate_api_key_secrets", stdout=out)
    assert "re-encrypted 2 API key secret(s)" in out.getvalue()

    settings.API_KEY_ENCRYPTION_KEYS = [new_key]  # the old key dropped
    for created in (before, after):
        assert Fernet(new_key).decrypt(stored_column(created.key.id).encode()).decode() == created.secret
        assert signed_client(created).get("/api/v1/balances").status_code == 200
    key = ApiKey.objects.get(id=before.key.id)
    assert services.verify_signature(key, "payload", services.signature_of(before.secret, "payload"))


def test_rotation_refuses_when_the_old_key_was_dropped_too_early(alice, settings):
    make_key(alice)
    settings.API_KEY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(Exception, match="keep the old key listed"):
        call_command("rotate_api_key_secrets", stdout=StringIO())


def clean_env(**overrides: str) -> dict[str, str]:
    dropped = ("API_KEY_ENCRYPTION_KEYS", "API_KEY_ENCRYPTION_KEYS_FILE", "DEBUG")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    return {**env, "DJANGO_SETTINGS_MODULE": "tradeengine.settings", **overrides}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("keys", ["", PUBLISHED, f"{Fernet.generate_key().decode()},{PUBLISHED}"])
def test_a_process_without_debug_refuses_a_missing_or_published_encryption_key(tmp_path, keys):
    env = clean_env(DEBUG="0", API_KEY_ENCRYPTION_KEYS=keys, API_KEY_ENCRYPTION_KEYS_FILE=str(tmp_path / "none"))
    result = run_python(PRINT_KEYS, env)
    assert result.returncode != 0
    assert "API_KEY_ENCRYPTION_KEYS is missing or holds the development key" in result.stderr
    assert "make secrets" in result.stderr


def test_a_malformed_encryption_key_is_refused(tmp_path):
    result = run_python(PRINT_KEYS, clean_env(DEBUG="1", API_KEY_ENCRYPTION_KEYS="not-a-fernet-key"))
    assert result.returncode != 0 and "is not a Fernet key" in result.stderr


def test_debug_allows_the_development_key(tmp_path):
    result = run_python(PRINT_KEYS, clean_env(DEBUG="1", API_KEY_ENCRYPTION_KEYS_FILE=str(tmp_path / "none")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [PUBLISHED]


def test_the_generated_key_file_is_private_kept_and_used_by_settings(tmp_path):
    key_file = tmp_path / "secrets" / "api-key-encryption-keys"
    env = clean_env(API_KEY_ENCRYPTION_KEYS_FILE=str(key_file), SECRET_KEY="set-in-the-environment-for-this-test")
    script = [str(REPO / "scripts" / "ensure_secret_key.sh")]
    first = subprocess.run(script, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "generated" in first.stdout
    key = key_file.read_text().strip()
    Fernet(key)  # a valid Fernet key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    again = subprocess.run(script, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == ""
    assert key_file.read_text().strip() == key

    used = run_python(PRINT_KEYS, {**env, "DEBUG": "0"})
    assert used.returncode == 0, used.stderr
    assert used.stdout.split() == [key]

    key_file.write_text(f"{Fernet.generate_key().decode()}\n{key}\n")  # a new key put first, one a line
    assert run_python(PRINT_KEYS, {**env, "DEBUG": "0"}).stdout.split()[1] == key
