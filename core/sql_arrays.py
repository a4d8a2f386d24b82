"""Columns of a bulk statement as PostgreSQL array literals.

A bulk write sends each column as one array, cast in the SQL
(`unnest(%s::bigint[], %s::numeric[], ...)`). Handed a Python list, the
client-side binding Django uses quotes the array element by element in
Python, and for the matcher's batches that cost more than PostgreSQL took
to apply them (docs/performance.md, "Matcher: draining a backlog"). These
build the literal text ('{1,2,3}') with str.join instead; PostgreSQL parses
the same text either way, so the stored values are identical. Decimal text
is exact (str of a Decimal round-trips, and numeric accepts its exponent
form).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable

NULL = "NULL"


def ints(values: Iterable[int | None]) -> str:
    """bigint[] text; None becomes NULL (no int's text contains "None")."""
    return "{" + ",".join(map(str, values)).replace("None", NULL) + "}"


def decimals(values: Iterable[Decimal | None]) -> str:
    """numeric[] text; None becomes NULL (no Decimal's text contains "None")."""
    return "{" + ",".join(map(str, values)).replace("None", NULL) + "}"


def decimal_runs(runs: Iterable[tuple[Decimal, int]]) -> str:
    """numeric[] text of runs of one value: (value, times) pairs, in order
    (a per-row constant such as each row's symbol's step)."""
    return "{" + ",".join(",".join([str(value)] * times) for value, times in runs if times) + "}"


def texts(values: Iterable[str]) -> str:
    """varchar[] text: every element quoted, so an empty string, a space, a
    comma or the word NULL stay what they are."""
    values = list(values)
    joined = '","'.join(values)
    if "\\" in joined or joined.count('"') != 2 * max(len(values) - 1, 0):
        joined = '","'.join(_escaped(v) for v in values)  # some element has a quote or a backslash
    return '{"' + joined + '"}' if values else "{}"


def bools(values: Iterable[bool]) -> str:
    return "{" + ",".join("t" if v else "f" for v in values) + "}"


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
