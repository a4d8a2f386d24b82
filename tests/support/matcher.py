"""Driving the matcher in the test process, as the run_matcher process would."""

from __future__ import annotations

from matching.host import BatchResult, Matcher


def process(symbol) -> BatchResult:
    """Apply every journalled command of the symbol in this process."""
    return Matcher([symbol.id]).process_batch()
