from django.conf import settings
from django.urls import path

from panel.api import docs, openapi, views

urlpatterns = [
    # Both spellings answer directly: a redirect would turn a client's POST into a GET.
    path("api/v2", views.api_v2, name="api_v2"),
    path("api/v2/", views.api_v2),
    path("api", docs.api_docs, name="api_docs"),
    path("api/openapi.json", openapi.openapi_view, name="api_openapi"),
]

if settings.PANEL_BENCH_FLOOR:
    urlpatterns.append(path("api/bench-floor", views.bench_floor))
