"""Risk-control errors, each with its API code."""

from core.errors import DomainError


class UnknownSymbol(DomainError):
    code = "UNKNOWN_SYMBOL"
    status = 404
    default_message = "No such symbol."


class LimitExceeded(DomainError):
    code = "LIMIT_EXCEEDED"
    status = 400
    default_message = "The order breaks a trading limit."


class PriceOutOfBand(DomainError):
    code = "PRICE_OUT_OF_BAND"
    status = 400
    default_message = "The price is too far from the symbol's last price."


class TotpRequired(DomainError):
    code = "TOTP_REQUIRED"
    status = 403
    default_message = "An order of this value needs a TOTP code (totp_code)."


class InvalidTotp(DomainError):
    code = "INVALID_TOTP"
    status = 403
    default_message = "The TOTP code is wrong, expired or already used."


class UserNotFound(DomainError):
    code = "USER_NOT_FOUND"
    status = 404
    default_message = "No such user."
