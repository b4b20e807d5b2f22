"""The admin shows amounts as the customer pages do: providers.pricing.format_money.

The admin renders a model's value through `display_for_field`, which shows a DecimalField with all its
stored places (0.07443, 12.50000). Every admin page (lists, read-only fields, any admin module added later)
goes through that one function, so it is wrapped once here rather than each money column being redefined
in each ModelAdmin: a field made by accounts.money.MoneyField (marked `is_money`) is shown by format_money;
everything else as before. Installed by PanelConfig.ready().
"""

from __future__ import annotations

import functools
import importlib

from django.apps import apps

from providers.pricing import format_money

# The modules that call display_for_field by their own imported name (an admin theme brings its own).
_CALLERS = (
    "django.contrib.admin.utils",
    "django.contrib.admin.helpers",
    "django.contrib.admin.templatetags.admin_list",
    "unfold.utils",
    "unfold.helpers",
    "unfold.templatetags.unfold_list",
)


def _money_aware(display_for_field):
    if getattr(display_for_field, "shows_money", False):
        return display_for_field

    @functools.wraps(display_for_field)
    def wrapper(value, field, empty_value_display, *args, **kwargs):
        if getattr(field, "is_money", False) and value is not None and value != "":
            return format_money(value)
        return display_for_field(value, field, empty_value_display, *args, **kwargs)

    wrapper.shows_money = True
    return wrapper


def install() -> None:
    for name in _CALLERS:
        app = name.split(".", 1)[0]
        if app != "django" and not apps.is_installed(app):
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:  # a theme version without that module
            continue
        if callable(getattr(module, "display_for_field", None)):
            module.display_for_field = _money_aware(module.display_for_field)
