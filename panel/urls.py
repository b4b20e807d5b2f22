from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import include, path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from panel.admin_site import PanelBranding
from panel.metrics.views import metrics_view
from panel.web import two_factor
from panel.web.forms import AdminLoginForm
from panel.web.views.auth import LoginView


class TwoFactorAdminSite(PanelBranding, admin.AdminSite):
    """The admin opens only to active staff who used a second factor in this session.

    Its login form is throttled like the customers' one and leads to the same second step; staff who are
    signed in without a second factor are sent to give a code, or to set up a device when they have none.
    """

    def has_permission(self, request):
        is_verified = getattr(request.user, "is_verified", None)  # set by django_otp's OTPMiddleware
        return super().has_permission(request) and is_verified is not None and is_verified()

    def login(self, request, extra_context=None):
        index = reverse("admin:index", current_app=self.name)
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff and not self.has_permission(request):
            target = "login_verify" if two_factor.has_two_factor(user) else "security_setup"
            next_url = request.GET.get(REDIRECT_FIELD_NAME) or index
            return redirect(f"{reverse(target)}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
        if request.method == "GET" and self.has_permission(request):
            return redirect(index)
        context = {
            **self.each_context(request), "title": _("Log in"), "subtitle": None,
            "app_path": request.get_full_path(), "username": user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = index
        context.update(extra_context or {})
        request.current_app = self.name
        return LoginView.as_view(
            template_name=self.login_template or "admin/login.html", authentication_form=AdminLoginForm,
            redirect_authenticated_user=False, extra_context=context,
        )(request)


# Every app registers on admin.site; giving it this class (as django-otp documents for its own admin
# site) makes the rule hold for all of them.
admin.site.__class__ = TwoFactorAdminSite


def health(request):
    """Liveness for load balancers and docker health checks: the database answers."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("panel.api.urls")),
    path("", include("panel.web.urls")),
]
