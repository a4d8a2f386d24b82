from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import make_user


@pytest.fixture
def operator(db):
    return make_user("operator", is_staff=True)


@pytest.fixture
def operator_api(operator):
    return client_for(operator)
