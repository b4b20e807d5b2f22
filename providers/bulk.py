"""One UPDATE for many rows with different values each, in time linear in the number of rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from django.db import connections, models, router

_SQLITE_UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 35, 0)  # UPDATE … FROM (3.33) and RETURNING (3.35)


def bulk_update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of every object, joining the table to a VALUES list of the new values.

    Django's bulk_update builds one `CASE WHEN id=… THEN …` per field with a branch per row: the
    database evaluates it row by row (quadratic; minutes for 5,000 rows on PostgreSQL) and building
    the expressions costs seconds of Python. PostgreSQL takes all rows in one statement; SQLite in
    batches under its parameter limit (Django's conservative 999).
    """
    if not objs:
        return
    model = type(objs[0])
    columns = [model._meta.pk.attname, *(model._meta.get_field(name).attname for name in fields)]
    bulk_update_values(model, fields=fields, rows=[[getattr(obj, name) for name in columns] for obj in objs])


def bulk_update_values(model: type[models.Model], *, fields: Sequence[str], rows: Sequence[Sequence],
                       match: Sequence[str] = (), where: Mapping[str, object] | None = None,
                       returning: bool = False) -> list | None:
    """Like `bulk_update_rows`, from plain rows: each is `(pk, *new values of fields, *values of match)`.

    Only rows whose `match` columns still hold the given values, and whose `where` columns equal those
    constants, are written: a compare-and-set, so a writer that read a row before someone else changed it
    loses instead of overwriting. With `returning`, the primary keys of the rows written come back.
    """
    if not rows:
        return [] if returning else None
    connection = connections[router.db_for_write(model)]
    where = dict(where or {})
    meta = model._meta
    pk = meta.pk
    value_fields = [pk, *(meta.get_field(name) for name in fields)]
    match_fields = [meta.get_field(name) for name in match]
    if connection.vendor not in ("postgresql", "sqlite") or (connection.vendor == "sqlite" and not _SQLITE_UPDATE_FROM):
        return _update_row_by_row(model, value_fields, match_fields, rows, where, returning)
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    columns = value_fields + match_fields
    aliases = [f"c{n}" for n in range(len(columns))]
    if connection.vendor == "postgresql":
        # One array per column, unnested into rows: a statement of a few placeholders whatever the number
        # of rows (a VALUES list of 15,000 placeholders cost more to build and parse than to run).
        source = ("unnest(" + ", ".join(f"%s::{field.db_type(connection)}[]" for field in columns) + ") AS v ("
                  + ", ".join(aliases) + ")")
        names = [f"v.{name}" for name in aliases]
    else:
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        alias = "v"  # SQLite names VALUES columns column1, column2, …
        names = [f"v.column{n}" for n in range(1, len(columns) + 1)]
        batch = max(1, connection.features.max_query_params // len(columns))
    count = len(value_fields)
    assignments = ", ".join(f"{quote(f.column)} = {name}"
                            for f, name in zip(value_fields[1:], names[1:count], strict=True))
    conditions = [f"{table}.{quote(pk.column)} = {names[0]}"]
    conditions += [f"{table}.{quote(f.column)} = {name}" for f, name in zip(match_fields, names[count:], strict=True)]
    constants: list[object] = []
    for name, value in where.items():
        field = meta.get_field(name)
        conditions.append(f"{table}.{quote(field.column)} = %s")
        constants.append(field.get_db_prep_value(value, connection))
    tail = f" RETURNING {table}.{quote(pk.column)}" if returning else ""
    written: list = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The driver adapts Python values itself; Django's per-value preparation is the identity here
            # for every type these columns hold, and cost a call per value.
            arrays = [list(column) for column in zip(*rows, strict=True)]
            cursor.execute(f"UPDATE {table} SET {assignments} FROM {source} WHERE {' AND '.join(conditions)}{tail}",
                           arrays + constants)
            return [r[0] for r in cursor.fetchall()] if returning else None
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            params = [field.get_db_prep_save(value, connection)
                      for values in chunk for field, value in zip(columns, values, strict=True)]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))}) AS {alias} "
                f"WHERE {' AND '.join(conditions)}{tail}",
                params + constants,
            )
            if returning:
                written.extend(r[0] for r in cursor.fetchall())
    return written if returning else None


def _update_row_by_row(model, value_fields, match_fields, rows, where, returning) -> list | None:
    """Other databases: one conditional UPDATE per row (correct, not fast)."""
    written = []
    count = len(value_fields)
    for values in rows:
        filters = {value_fields[0].attname: values[0], **where}
        filters.update({f.attname: v for f, v in zip(match_fields, values[count:], strict=True)})
        changes = {f.attname: v for f, v in zip(value_fields[1:], values[1:count], strict=True)}
        if model._default_manager.filter(**filters).update(**changes):
            written.append(values[0])
    return written if returning else None


def bulk_insert_values(model: type[models.Model], *, fields: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Insert plain rows (values of `fields`, in order) in one statement on PostgreSQL (arrays unnested into
    rows); elsewhere through Django's bulk_create. Defaults and auto fields are not filled in: give them."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**{f.attname: v for f, v in zip(columns, values, strict=True)}) for values in rows])
        return
    quote = connection.ops.quote_name
    arrays = [list(column) for column in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) SELECT * FROM unnest("
            + ", ".join(f"%s::{f.db_type(connection)}[]" for f in columns) + ")",
            arrays)
