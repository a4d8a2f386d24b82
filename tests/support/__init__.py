"""Helpers and test doubles shared by the test folders."""
