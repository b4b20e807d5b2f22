"""One UPDATE for many rows with different values each, in time linear in the number of rows."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models, router


def bulk_update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of every object in one statement.

    Django's bulk_update builds one `CASE WHEN id=… THEN …` per field with a branch per row, which the
    database evaluates row by row: quadratic, minutes for a few thousand rows. On PostgreSQL this joins
    the table to a VALUES list instead. Elsewhere (SQLite) it falls back to bulk_update, which that
    backend splits into batches of its parameter limit anyway.
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, list(fields))
        return
    quote = connection.ops.quote_name
    pk = model._meta.pk
    columns = [pk] + [model._meta.get_field(name) for name in fields]
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    params: list[object] = []
    for obj in objs:
        for field in columns:
            params.append(field.get_db_prep_save(getattr(obj, field.attname), connection))
    table = quote(model._meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns[1:])
    names = ", ".join(quote(f.column) for f in columns)
    sql = (f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(objs))}) AS v ({names}) "
           f"WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
