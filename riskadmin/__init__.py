"""Symbols and their filters, limits, halts, audit log and operator tools."""
