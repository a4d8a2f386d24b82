"""The matcher helper under its former name: tests/marketdata/test_consumer.py
and tests/riskadmin/test_halt_symbol.py still import it from here. New code
imports tests.support.matcher."""

from tests.support.matcher import process

__all__ = ["process"]
