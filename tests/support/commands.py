"""Running a management command in the test process."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command


def run(*args) -> tuple[str, str]:
    """call_command(*args) with its output captured: (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()
