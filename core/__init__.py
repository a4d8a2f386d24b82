"""Conventions every app shares: domain errors with API codes, the API's
error body and decimal fields, the Redis client, cross-process metrics and
append-only tables. It sits below every app and imports none of them."""
