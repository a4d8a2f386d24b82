"""Base class for domain errors: each carries a stable code from API.md."""

from __future__ import annotations


class DomainError(Exception):
    """A rule the request broke. Subclasses fix `code` and `status`."""

    code = "BAD_REQUEST"
    status = 400
    default_message = "The request was refused."

    def __init__(self, message: str | None = None, **details) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

