from core.errors import DomainError


class InsufficientBalance(DomainError):
    code = "INSUFFICIENT_BALANCE"
    status = 400
    default_message = "Not enough available balance for this order."


class InvalidAmount(DomainError):
    code = "INVALID_AMOUNT"
    status = 400
    default_message = "The amount must be positive."


class DepositReferenceConflict(DomainError):
    code = "DEPOSIT_REFERENCE_CONFLICT"
    status = 409
    default_message = "This reference was already used for a different deposit."
