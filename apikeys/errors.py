"""API key errors, each with its API code. Every failure to authenticate is
401; which check failed is told only as far as it helps an honest client."""

from core.errors import DomainError


class InvalidApiKey(DomainError):
    code = "INVALID_API_KEY"
    status = 401
    default_message = "The API key is unknown, revoked or expired."


class IncompleteSignature(DomainError):
    code = "NOT_AUTHENTICATED"
    status = 401
    default_message = "A signed request carries X-API-KEY, X-API-TIMESTAMP and X-API-SIGNATURE."


class TimestampOutOfWindow(DomainError):
    code = "TIMESTAMP_OUT_OF_WINDOW"
    status = 401
    default_message = "The timestamp is too far from the server's time."


class InvalidSignature(DomainError):
    code = "INVALID_SIGNATURE"
    status = 401
    default_message = "The signature does not match the request."


class IpNotAllowed(DomainError):
    code = "IP_NOT_ALLOWED"
    status = 401
    default_message = "This API key may not be used from this address."


class ApiKeyNotFound(DomainError):
    code = "NOT_FOUND"
    status = 404
    default_message = "No such API key."


class TooManyApiKeys(DomainError):
    code = "TOO_MANY_API_KEYS"
    status = 400
    default_message = "Revoke a key before creating another."
