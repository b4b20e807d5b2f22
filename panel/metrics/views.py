"""/metrics: who may read it, and what it answers (Prometheus text format)."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from panel.addresses import client_address
from panel.metrics.engine import EngineCollector


def metrics_enabled() -> bool:
    return bool(settings.METRICS_TOKEN or settings.METRICS_ALLOWED_ADDRESSES)


def metrics_allowed(request: HttpRequest) -> bool:
    """A bearer token equal to METRICS_TOKEN (compared in constant time), or an allowed client address."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    if settings.METRICS_ALLOWED_ADDRESSES:
        try:
            address = ipaddress.ip_network(client_address(request), strict=False)
        except ValueError:
            return False
        return any(address.version == allowed.version and address.subnet_of(allowed)
                   for allowed in map(ipaddress.ip_network, settings.METRICS_ALLOWED_ADDRESSES))
    return False


class _ThisProcess(Collector):
    """The counters this process keeps (API requests, upstream calls), when not in multiprocess mode."""

    def collect(self):
        yield from REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    """What one scrape shows: the processes' counters and the engine's state."""
    registry = CollectorRegistry(auto_describe=False)
    if settings.PROMETHEUS_MULTIPROC_DIR:
        # Every process that wrote to the directory (gunicorn workers, Celery workers on this host), added up.
        multiprocess.MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    registry.register(EngineCollector())
    return registry


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_enabled():
        return HttpResponseNotFound("Not found", content_type="text/plain")
    if not metrics_allowed(request):
        return HttpResponseForbidden("Forbidden", content_type="text/plain")
    # The format the scraper asks for (Prometheus' text format 0.0.4 by default, OpenMetrics on request).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(metrics_registry()), content_type=content_type)
