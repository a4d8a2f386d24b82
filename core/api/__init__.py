"""Shared REST plumbing: JSON parsing, the error body, pagination, output fields."""
