"""Write path for symbols, limits, halts, emergency cancels and the audit log.

Every operator action writes its audit row in the same transaction as the
change it records: either both are stored or neither is.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal

import pyotp
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.db import transaction

from . import errors
from .models import AuditLog, Symbol, SymbolLimit, TotpDevice, UserLimit

log = logging.getLogger(__name__)

USER_LIMIT_FIELDS = ("max_order_size", "max_daily_volume", "max_open_orders", "requires_2fa_above")
SYMBOL_LIMIT_FIELDS = ("min_order_size", "max_order_size", "max_price_deviation")
CANCELLED_BY_ADMIN = "Cancelled by operator"


@transaction.atomic
def symbol_upsert(
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


def audit_record(*, actor, action: str, target: str = "", payload: dict | None = None, ip: str | None = None) -> AuditLog:
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
def user_limits_set(*, user_id: int, actor, ip: str | None = None, **values) -> UserLimit:
    """Set some or all of a user's limits (None clears one)."""
    if not get_user_model().objects.filter(id=user_id).exists():
        raise errors.UserNotFound(user_id=user_id)
    limit, _ = UserLimit.objects.select_for_update().get_or_create(user_id=user_id)
    return _change_limits(limit, USER_LIMIT_FIELDS, values, actor=actor, action="limits.user.set", target=f"user:{user_id}", ip=ip)


@transaction.atomic
def symbol_limits_set(*, symbol: Symbol, actor, ip: str | None = None, **values) -> SymbolLimit:
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
    audit_record(actor=actor, action=action, target=target, payload={"before": _jsonable(before), "after": _jsonable(changes)}, ip=ip)
    return limit


def _set_status(*, symbol: Symbol, status: str, reason: str, actor, action: str, ip: str | None) -> Symbol:
    halt_reason = reason[:255] if status == Symbol.Status.HALTED else ""
    with transaction.atomic():
        locked = Symbol.objects.select_for_update().get(id=symbol.id)
        previous = locked.status
        Symbol.objects.filter(id=locked.id).update(status=status, halt_reason=halt_reason)
        locked.status, locked.halt_reason = status, halt_reason
        audit_record(actor=actor, action=action, target=f"symbol:{locked.name}", payload={"reason": reason, "previous_status": previous}, ip=ip)
        transaction.on_commit(lambda: broadcast_status(locked))
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


def ticker_group(symbol: Symbol) -> str:
    """The Channels group of the "ticker:<BASE-QUOTE>" stream (group names
    allow no ":"; marketdata.streams names them "md.ticker.BASE-QUOTE")."""
    return "md.ticker." + symbol.url_name


def status_message(symbol: Symbol) -> dict:
    """A "status" event on the ticker stream, in the market-data publisher's
    envelope so the WebSocket consumer relays it like any other update."""
    return {
        "type": "market.event",
        "channel": f"ticker:{symbol.url_name}",
        "sequence": 0,
        "ts": time.time(),
        "data": {"event": "status", "symbol": symbol.name, "status": symbol.status, "reason": symbol.halt_reason},
    }


def broadcast_status(symbol: Symbol) -> bool:
    """Tell ticker subscribers the symbol's status. Best effort: returns
    False (and logs) when the channel layer is down; the halt stands anyway."""
    from channels.layers import get_channel_layer

    try:
        layer = get_channel_layer()
        if layer is None:
            return False
        async_to_sync(layer.group_send)(ticker_group(symbol), status_message(symbol))
    except Exception as exc:  # Redis down or misconfigured: never undo a halt over it
        log.warning("could not broadcast the status of %s: %s", symbol.name, exc)
        return False
    return True


@transaction.atomic
def cancel_all_orders(*, user_id: int, actor, reason: str = CANCELLED_BY_ADMIN, ip: str | None = None) -> dict:
    """Journal a cancel for every live order of the user, stops included.

    Returns {cancelled, total}: total live orders found, cancelled = cancels
    journalled (an order that ended meanwhile is counted in total only).
    """
    from orders import errors as order_errors
    from orders.models import Order
    from orders.services import cancel_order

    user = get_user_model().objects.filter(id=user_id).first()
    if user is None:
        raise errors.UserNotFound(user_id=user_id)
    reason = (reason or CANCELLED_BY_ADMIN)[:64]
    order_ids = list(Order.objects.filter(user_id=user_id, status__in=Order.LIVE_STATUSES).order_by("id").values_list("id", flat=True))
    cancelled = 0
    for order_id in order_ids:
        try:
            cancel_order(user=user, order_id=order_id, reason=reason)
        except order_errors.OrderNotCancellable:
            continue
        cancelled += 1
    result = {"cancelled": cancelled, "total": len(order_ids)}
    audit_record(actor=actor, action="orders.cancel_all", target=f"user:{user_id}", payload={"reason": reason, "order_ids": order_ids, **result}, ip=ip)
    return result


@transaction.atomic
def totp_enroll(*, user_id: int, actor=None, ip: str | None = None) -> str:
    """Give the user a new TOTP secret (replacing any old one); returns it
    for the authenticator app (pyotp.TOTP(secret).provisioning_uri)."""
    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(user_id=user_id, defaults={"secret": secret, "last_step": 0})
    if actor is not None:
        audit_record(actor=actor, action="totp.enroll", target=f"user:{user_id}", ip=ip)
    return secret
