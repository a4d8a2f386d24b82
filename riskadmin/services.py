"""Write path for symbols, limits, halts, TOTP devices and the audit log.

Every operator action writes its audit row in the same transaction as the
change it records: either both are stored or neither is.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import pyotp
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from marketdata.publisher import publish_symbol_status

from . import errors
from .selectors import forget_order_rate_overrides
from .models import AuditLog, Symbol, SymbolLimit, TotpDevice, UserLimit

log = logging.getLogger(__name__)

USER_LIMIT_FIELDS = (
    "max_order_size", "max_daily_volume", "max_open_orders", "requires_2fa_above",
    "orders_per_10s", "orders_per_day", "maker_fee", "taker_fee",
)
SYMBOL_LIMIT_FIELDS = ("min_order_size", "max_order_size", "max_price_deviation")
TOTP_VALID_WINDOW = 1  # accept the previous and next 30 s step too (clock drift)


@transaction.atomic
def upsert_symbol(
    *,
    name: str,
    tick_size: Decimal,
    step_size: Decimal,
    min_quantity: Decimal,
    min_notional: Decimal = Decimal("0"),
    maker_fee: Decimal = Decimal("0.001"),
    taker_fee: Decimal = Decimal("0.001"),
) -> Symbol:
    """Create a symbol "BASE/QUOTE", or update its filters and fees."""
    base, quote = name.upper().split("/")
    symbol, _ = Symbol.objects.update_or_create(
        name=f"{base}/{quote}",
        defaults={
            "base_asset": base,
            "quote_asset": quote,
            "tick_size": tick_size,
            "step_size": step_size,
            "min_quantity": min_quantity,
            "min_notional": min_notional,
            "maker_fee": maker_fee,
            "taker_fee": taker_fee,
        },
    )
    return symbol


def record_audit(*, actor, action: str, target: str = "", payload: dict | None = None, ip: str | None = None) -> AuditLog:
    """Append one audit row (call inside the transaction of the change)."""
    actor_id = getattr(actor, "id", None)
    return AuditLog.objects.create(
        actor_id=actor_id,
        actor_name=actor.get_username() if actor_id else "system",
        action=action,
        target=target,
        payload=payload or {},
        ip=ip or None,
    )


def _jsonable(values: dict) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


@transaction.atomic
def set_user_limits(*, user_id: int, actor, ip: str | None = None, **values) -> UserLimit:
    """Set some or all of a user's limits (None clears one)."""
    if not get_user_model().objects.filter(id=user_id).exists():
        raise errors.UserNotFound(user_id=user_id)
    limit, _ = UserLimit.objects.select_for_update().get_or_create(user_id=user_id)
    limit = _change_limits(limit, USER_LIMIT_FIELDS, values, actor=actor, action="limits.user.set", target=f"user:{user_id}", ip=ip)
    transaction.on_commit(lambda: forget_order_rate_overrides(user_id=user_id))
    return limit


@transaction.atomic
def set_symbol_limits(*, symbol: Symbol, actor, ip: str | None = None, **values) -> SymbolLimit:
    """Set some or all of a symbol's limits (None clears one)."""
    limit, _ = SymbolLimit.objects.select_for_update().get_or_create(symbol=symbol)
    return _change_limits(limit, SYMBOL_LIMIT_FIELDS, values, actor=actor, action="limits.symbol.set", target=f"symbol:{symbol.name}", ip=ip)


def _change_limits(limit, fields, values: dict, *, actor, action: str, target: str, ip: str | None):
    """Apply the known fields of `values` to a locked limit row and audit
    what they were before and after."""
    changes = {k: v for k, v in values.items() if k in fields}
    before = {f: getattr(limit, f) for f in changes}
    for field, value in changes.items():
        setattr(limit, field, value)
    limit.save()
    record_audit(actor=actor, action=action, target=target, payload={"before": _jsonable(before), "after": _jsonable(changes)}, ip=ip)
    return limit


def _set_status(*, symbol: Symbol, status: str, reason: str, actor, action: str, ip: str | None) -> Symbol:
    halt_reason = reason[:255] if status == Symbol.Status.HALTED else ""
    with transaction.atomic():
        locked = Symbol.objects.select_for_update().get(id=symbol.id)
        previous = locked.status
        Symbol.objects.filter(id=locked.id).update(status=status, halt_reason=halt_reason)
        locked.status, locked.halt_reason = status, halt_reason
        record_audit(actor=actor, action=action, target=f"symbol:{locked.name}", payload={"reason": reason, "previous_status": previous}, ip=ip)
        transaction.on_commit(lambda: publish_symbol_status(locked))
    log.warning("symbol %s is now %s", locked.name, status, extra={"symbol": locked.name, "reason": reason})
    return locked


def halt_symbol(*, symbol: Symbol, reason: str, actor, ip: str | None = None) -> Symbol:
    """Stop new orders on the symbol at once. Cancels still go through and
    resting orders stay in the book. Stored in the database, so it survives
    restarts; announced on the symbol's ticker stream after commit."""
    return _set_status(symbol=symbol, status=Symbol.Status.HALTED, reason=reason, actor=actor, action="trading.halt", ip=ip)


def resume_symbol(*, symbol: Symbol, actor, reason: str = "", ip: str | None = None) -> Symbol:
    """Accept new orders on the symbol again."""
    return _set_status(symbol=symbol, status=Symbol.Status.TRADING, reason=reason, actor=actor, action="trading.resume", ip=ip)


@transaction.atomic
def enroll_totp(*, user_id: int, actor=None, ip: str | None = None) -> str:
    """Give the user a new TOTP secret (replacing any old one); returns it
    for the authenticator app (pyotp.TOTP(secret).provisioning_uri)."""
    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(user_id=user_id, defaults={"secret": secret, "last_step": 0})
    if actor is not None:
        record_audit(actor=actor, action="totp.enroll", target=f"user:{user_id}", ip=ip)
    return secret


def verify_totp(*, user_id: int, code: str) -> None:
    """Accept a current TOTP code once; raise TotpRequired / InvalidTotp."""
    if not code:
        raise errors.TotpRequired()
    device = TotpDevice.objects.filter(user_id=user_id).first()
    if device is None:
        raise errors.TotpRequired("An order of this value needs a TOTP code, and you have no TOTP device set up.")
    totp = pyotp.TOTP(device.secret)
    step = totp.timecode(timezone.now())
    for offset in range(-TOTP_VALID_WINDOW, TOTP_VALID_WINDOW + 1):
        candidate = step + offset
        if pyotp.utils.strings_equal(str(code), totp.generate_otp(candidate)):
            # A conditional update: a code (or an older one) is never accepted twice.
            if TotpDevice.objects.filter(user_id=user_id, last_step__lt=candidate).update(last_step=candidate) == 1:
                return
            break
    raise errors.InvalidTotp()
