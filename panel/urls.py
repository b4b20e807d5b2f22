from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path


def health(request):
    """Liveness for load balancers and docker health checks: the database answers."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("panel.api.urls")),
    path("", include("panel.web.urls")),
]
