"""Array literals for bulk statements read back as the values they were built from."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from core import sql_arrays

pytestmark = pytest.mark.django_db

TEXTS = ["", " ", "NULL", "null", "a,b", "{x}", 'say "hi"', "back\\slash", "it's", "ü", "tab\there", "new\nline"]
DECIMALS = [Decimal("1E-8"), Decimal("0E-18"), None, Decimal("49999.810000000000000000"), Decimal("-3.5"), Decimal("1E+3")]


def read_back(literal: str, sql_type: str):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{sql_type}[]", [literal])
        return cursor.fetchone()[0]


@pytest.mark.parametrize("values", [TEXTS, [], [""], ['"'], ["OPEN", "FILLED"], ["ends\\"], ['x"', "y"]])
def test_texts_keep_quotes_backslashes_empty_strings_and_the_word_null(values):
    assert read_back(sql_arrays.texts(values), "varchar") == values


@pytest.mark.parametrize("values", [DECIMALS, [], [None], [Decimal(5)]])
def test_decimals_are_exact_and_none_is_null(values):
    assert read_back(sql_arrays.decimals(values), "numeric") == values


@pytest.mark.parametrize("values", [[], [1], [3, -2, 2**62]])
def test_ints(values):
    assert read_back(sql_arrays.ints(values), "bigint") == values


def test_bools():
    assert read_back(sql_arrays.bools([True, False]), "boolean") == [True, False]


def test_decimal_runs_repeat_each_value_in_order():
    runs = [(Decimal("0.010000000000000000"), 2), (Decimal("5"), 0), (Decimal("1E-16"), 1)]
    assert read_back(sql_arrays.decimal_runs(runs), "numeric") == [Decimal("0.01"), Decimal("0.01"), Decimal("1E-16")]
    assert read_back(sql_arrays.decimal_runs([]), "numeric") == []


def test_ints_may_hold_nulls():
    assert read_back(sql_arrays.ints([1, None, 3]), "bigint") == [1, None, 3]
