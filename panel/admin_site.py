"""The admin speaks of itself by the panel's name (PANEL_NAME), never as "Django administration"."""

from __future__ import annotations

from django.conf import settings


class PanelBranding:
    """Mixed into the admin site: its header, the browser tab's title and the home page's title. Read from the
    settings on each request rather than copied at import, so a changed PANEL_NAME shows without a rebuild."""

    index_title = "Overview"

    @property
    def site_header(self) -> str:
        return f"{settings.PANEL_NAME} admin"

    @property
    def site_title(self) -> str:
        return f"{settings.PANEL_NAME} admin"
