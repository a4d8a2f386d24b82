"""Reads of symbols, limits and the audit log."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Q, QuerySet

from . import errors
from .models import AuditLog, Symbol, SymbolLimit, UserLimit

AUDIT_MAX_LIMIT = 1000
# The rate limiter reads a user's order-rate overrides on every order request:
# from the cache, for this long, rather than from PostgreSQL each time.
RATE_OVERRIDES_CACHE_SECONDS = 30


def find_symbol(name: str) -> Symbol:
    """Look a symbol up by "BTC/USDT" or "BTC-USDT", with its limits joined
    (the order path checks them next: one query, not two)."""
    normalized = name.strip().upper().replace("-", "/")
    if "\x00" in normalized:  # PostgreSQL text cannot hold NUL: no symbol has one
        raise errors.UnknownSymbol(symbol=name.replace("\x00", ""))
    try:
        return Symbol.objects.select_related("limit").get(name=normalized)
    except Symbol.DoesNotExist:
        raise errors.UnknownSymbol(symbol=name) from None


def find_symbols(names) -> dict[str, Symbol]:
    """find_symbol for many names in one query: found symbols by the name
    asked for; unknown names are absent."""
    wanted = {name: name.strip().upper().replace("-", "/") for name in set(names) if "\x00" not in name}
    found = {s.name: s for s in Symbol.objects.select_related("limit").filter(name__in=set(wanted.values()))}
    return {name: found[normal] for name, normal in wanted.items() if normal in found}


def user_limit_for(*, user_id: int) -> UserLimit:
    """The user's limits; an unsaved, empty row when none were ever set."""
    return UserLimit.objects.filter(user_id=user_id).first() or UserLimit(user_id=user_id)


def order_rate_overrides(*, user_id: int) -> dict[str, str]:
    """The user's own order rate limits, as rates for settings.RATE_LIMITS'
    "orders" and "orders_day" buckets ({} = the venue defaults apply)."""
    key = _rate_overrides_key(user_id)
    overrides = cache.get(key)
    if overrides is None:
        row = UserLimit.objects.filter(user_id=user_id).values("orders_per_10s", "orders_per_day").first() or {}
        overrides = {}
        if row.get("orders_per_10s") is not None:
            overrides["orders"] = f"{row['orders_per_10s']}/10s"
        if row.get("orders_per_day") is not None:
            overrides["orders_day"] = f"{row['orders_per_day']}/day"
        cache.set(key, overrides, RATE_OVERRIDES_CACHE_SECONDS)
    return overrides


def forget_order_rate_overrides(*, user_id: int) -> None:
    """Drop the cached overrides once an operator changed them."""
    cache.delete(_rate_overrides_key(user_id))


def _rate_overrides_key(user_id: int) -> str:
    return f"riskadmin:order-rates:{user_id}"


def symbol_limit_for(*, symbol: Symbol) -> SymbolLimit:
    return SymbolLimit.objects.filter(symbol=symbol).first() or SymbolLimit(symbol=symbol)


def audit_entries(*, action: str = "", actor: str = "", limit: int = 100) -> QuerySet[AuditLog]:
    """Newest first. action matches exactly or as a prefix ("trading." gives
    halts and resumes); actor is a username or a user id."""
    entries = AuditLog.objects.all()
    if action:
        entries = entries.filter(Q(action=action) | Q(action__startswith=action.rstrip(".") + "."))
    if actor:
        entries = entries.filter(actor_id=int(actor)) if actor.isascii() and actor.isdigit() else entries.filter(actor_name=actor)
    return entries[: max(1, min(limit, AUDIT_MAX_LIMIT))]
