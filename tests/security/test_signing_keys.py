"""Signing keys: never a value written in the repository outside DEBUG, and a
local key generated once per checkout (scripts/ensure_secret_key.sh)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from .conftest import assert_error_body

REPO = Path(__file__).resolve().parents[2]
OLD_PUBLISHED_KEY = "insecure-local-development-key-change-me-in-production"
PRINT_KEYS = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.SECRET_KEY); print(settings.SIMPLE_JWT['SIGNING_KEY'])"
)


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any key or DEBUG, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "JWT_SIGNING_KEY", "DEBUG", "SECRET_KEY_FILE")}
    return {**env, "DJANGO_SETTINGS_MODULE": "tradeengine.settings", **overrides}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def start_manage_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_token_signed_with_the_old_published_key_is_401(alice):
    assert django_settings.SIMPLE_JWT["SIGNING_KEY"] != OLD_PUBLISHED_KEY
    forged = jwt.encode(dict(AccessToken.for_user(alice).payload), OLD_PUBLISHED_KEY, algorithm="HS256")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert_error_body(client.get("/api/v1/account"), 401, "NOT_AUTHENTICATED")


@pytest.mark.parametrize("variable", ["SECRET_KEY", "JWT_SIGNING_KEY"])
def test_a_process_without_debug_refuses_to_sign_with_a_published_key(variable):
    overrides = {"DEBUG": "0", variable: OLD_PUBLISHED_KEY}
    if variable == "JWT_SIGNING_KEY":
        overrides["SECRET_KEY"] = "a-real-secret-from-the-environment-0123456789"
    result = start_manage_check(clean_env(**overrides))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{variable} is missing or a value published in the source code" in result.stderr
    assert "Set SECRET_KEY in the environment" in result.stderr


def test_a_process_without_debug_and_without_any_key_refuses_to_start(tmp_path):
    result = start_manage_check(clean_env(DEBUG="0", SECRET_KEY_FILE=str(tmp_path / "none")))
    assert result.returncode != 0
    assert "SECRET_KEY is missing" in result.stderr
    assert "make secrets" in result.stderr


def test_debug_allows_the_development_key_on_a_workstation(tmp_path):
    result = run_python(PRINT_KEYS, clean_env(DEBUG="1", SECRET_KEY_FILE=str(tmp_path / "none")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [OLD_PUBLISHED_KEY, OLD_PUBLISHED_KEY]


def test_the_generated_key_file_is_private_kept_and_used_by_settings(tmp_path):
    key_file = tmp_path / "secrets" / "django-secret-key"
    script = [str(REPO / "scripts" / "ensure_secret_key.sh")]
    first = subprocess.run(script, env=clean_env(SECRET_KEY_FILE=str(key_file)), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    key = key_file.read_text()
    assert len(key) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    again = subprocess.run(script, env=clean_env(SECRET_KEY_FILE=str(key_file)), capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == ""
    assert key_file.read_text() == key  # generated once, kept from then on

    used = run_python(PRINT_KEYS, clean_env(DEBUG="0", SECRET_KEY_FILE=str(key_file)))
    assert used.returncode == 0, used.stderr
    assert used.stdout.split() == [key, key]  # JWT_SIGNING_KEY follows SECRET_KEY


def test_no_key_file_is_made_when_the_environment_has_the_key(tmp_path):
    key_file = tmp_path / "django-secret-key"
    result = subprocess.run([str(REPO / "scripts" / "ensure_secret_key.sh")],
                            env=clean_env(SECRET_KEY="from-the-environment", SECRET_KEY_FILE=str(key_file)))
    assert result.returncode == 0
    assert not key_file.exists()
