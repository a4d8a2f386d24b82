import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The real hasher costs ~0.25 s per user created; these tests need none of it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
