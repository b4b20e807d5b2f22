"""Rows read and written as the ORM would, without building a query each time: for the few hot paths
(/api/v2 `add`) where compiling SQL costs more than running it.

Both give exactly the SQL and values the ORM gives; only the compiling is done once. They are for
PostgreSQL, whose driver returns the column types these models use as Django wants them (no
converters); elsewhere `read_one` runs the queryset itself, and `insert_columns` is not used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model, QuerySet

# Stands for the one value a compiled read takes: no real primary key is negative.
_PARAMETER = -7_654_321


@functools.cache
def _insert_fields(model: type[Model], supplied: frozenset[str]) -> tuple[tuple[Field, ...], list[str]]:
    fields = tuple(field for field in model._meta.concrete_fields
                   if not field.primary_key and field.attname not in supplied)
    return fields, [connection.ops.quote_name(field.column) for field in fields]


def insert_columns(instance: Model, *, supplied: frozenset[str] = frozenset()) -> tuple[list[str], list[object]]:
    """The quoted columns and the values an ORM insert of `instance` writes (defaults, `auto_now`
    stamps set on the instance as `save()` sets them), leaving out the primary key and the fields in
    `supplied` (attnames the statement fills itself)."""
    fields, columns = _insert_fields(type(instance), supplied)
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself: `connection` is a per-thread proxy
    return columns, [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]


@functools.cache
def _compiled(make_queryset: Callable[[int], QuerySet]) -> tuple[type[Model], list[str], str, tuple, int]:
    queryset = make_queryset(_PARAMETER).order_by()
    sql, params = queryset.query.sql_with_params()
    if params.count(_PARAMETER) != 1 or queryset.query.deferred_loading != (frozenset(), True):
        raise ValueError("a compiled read takes one value and reads whole rows")
    fields = queryset.model._meta.concrete_fields
    if any(hasattr(field, "from_db_value") for field in fields):
        raise ValueError("a compiled read builds instances from the driver's values as they come")
    attnames = [field.attname for field in fields]
    return queryset.model, attnames, sql, params, params.index(_PARAMETER)


def read_one(make_queryset: Callable[[int], QuerySet], value: int) -> Model | None:
    """The instance `make_queryset(value)` finds (it finds at most one row), or None. On PostgreSQL,
    that queryset's SQL compiled once per process for this `make_queryset` and run with `value`."""
    if connection.vendor != "postgresql":
        return next(iter(make_queryset(value)), None)
    model, attnames, sql, params, at = _compiled(make_queryset)
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params[:at], value, *params[at + 1:]))
        row = cursor.fetchone()
    return None if row is None else model.from_db(connection.alias, attnames, row)
