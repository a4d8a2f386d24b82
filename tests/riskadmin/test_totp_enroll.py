"""totp_enroll, run through call_command against the real database."""

from __future__ import annotations

import pytest
from django.core.management import CommandError

from riskadmin.models import TotpDevice
from tests.factories import make_user
from tests.support.commands import run


def test_totp_enroll_prints_a_working_secret_and_stores_it(db):
    user = make_user("carol")
    out, _ = run("totp_enroll", "carol", "--issuer", "Test Exchange")
    lines = dict(line.split(":", 1) for line in out.strip().splitlines())
    secret = lines["secret"].strip()
    uri = lines["uri"].strip()
    assert uri.startswith("otpauth://totp/") and "issuer=Test%20Exchange" in uri and secret in uri
    assert TotpDevice.objects.get(user=user).secret == secret

    again, _ = run("totp_enroll", "carol")
    assert again.splitlines()[0].split(":", 1)[1].strip() != secret  # the old secret is replaced


def test_totp_enroll_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="no user 'ghost'"):
        run("totp_enroll", "ghost")
