"""Payment gateways: one module per gateway, registered here by kind.

Adding one (Perfect Money, Payeer, NOWPayments, ...) is a module with a `GatewayModule` subclass and a
line in `_MODULES`, plus its kind in `accounts.models.Gateway.Kind`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from accounts.gateways.base import (
    Checkout,
    GatewayError,
    GatewayModule,
    Outcome,
    PaymentState,
    WebhookRefused,
)

if TYPE_CHECKING:
    from accounts.models import Gateway

__all__ = ["Checkout", "GatewayError", "GatewayModule", "Outcome", "PaymentState", "WebhookRefused",
           "gateway_module", "module_class"]

_MODULES = {
    "stripe": "accounts.gateways.stripe:StripeGateway",
    "paypal": "accounts.gateways.paypal:PayPalGateway",
    "cryptomus": "accounts.gateways.cryptomus:CryptomusGateway",
}


def module_class(kind: str) -> type[GatewayModule]:
    try:
        path = _MODULES[kind]
    except KeyError:
        raise GatewayError(f"Unknown gateway kind {kind!r}") from None
    module_name, class_name = path.split(":")
    return getattr(import_module(module_name), class_name)


def gateway_module(gateway: Gateway) -> GatewayModule:
    return module_class(gateway.kind)(gateway)
