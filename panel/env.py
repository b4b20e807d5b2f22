"""Typed readers for environment variables. A bad value stops start-up with a clear message."""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"Environment variable {name} is required")
        return default
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """An integer; with `minimum`, a smaller value (set or default) stops start-up."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        result = default
    else:
        try:
            result = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and result < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {result}")
    return result


def env_decimal(name: str, default: str, *, minimum: Decimal | int | None = None) -> Decimal:
    """A decimal number; with `minimum`, a smaller value (set or default) stops start-up."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        value = default
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number, got {value!r}") from None
    if not result.is_finite():
        raise ImproperlyConfigured(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and result < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {result}")
    return result


def env_token(name: str, default: str, *, max_length: int) -> str:
    """A short token of letters, digits, '_', '.' and ':' (it goes into identifiers sent to other systems)."""
    value = env_str(name, default).strip()
    if not 1 <= len(value) <= max_length or not all(c.isascii() and (c.isalnum() or c in "_.:") for c in value):
        raise ImproperlyConfigured(f"{name} must be 1 to {max_length} letters, digits, '_', '.' or ':', got {value!r}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    value = os.environ.get(name, default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_networks(name: str, default: str = "") -> list[str]:
    """Comma-separated addresses or networks (10.0.0.5, 10.0.0.0/8, fd00::/8), each checked."""
    import ipaddress

    networks = []
    for item in env_list(name, default):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(f"{name} must list IP addresses or networks, got {item!r}") from None
    return networks
