"""Insert many notification rows from plain column values, as fast as the database takes them.

Rows go in as plain tuples, the fastest way each database takes: ``executemany()`` on SQLite, ``COPY`` on
PostgreSQL, multi-row ``INSERT`` statements elsewhere. ``bulk_create()`` spent most of an import preparing each
value of each row through the field API. It stores rows and nothing else: no signal, no send. The hq importer
(hq.py) writes with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from .models import Notification

__all__ = ["NotificationWriter"]


class NotificationWriter:
    """Write notification rows given as ``{attname: value}`` dicts into one database.

    Columns a dict leaves out get their field's default, prepared once, so a field added to Notification later
    still gets a value.
    """

    def __init__(self, database: str = DEFAULT_DB_ALIAS) -> None:
        """Build, once, the INSERT statement and how each column's value is prepared for the database."""
        self.database = database
        self.connection = connections[database]
        ops = self.connection.ops
        self.insert_fields = [field for field in Notification._meta.concrete_fields if not field.primary_key]
        self.preparers: list[Any] = []
        self.defaults: list[Any] = []
        for field in self.insert_fields:
            self.defaults.append(field.get_db_prep_save(field.get_default(), self.connection))
            if isinstance(field, models.DateTimeField):
                self.preparers.append(self.adapt_datetime)
            elif isinstance(field, models.JSONField):
                # Through the backend straight away: the field's own path costs three calls a row more.
                self.preparers.append(lambda value, field=field: ops.adapt_json_value(value, field.encoder))
            else:
                self.preparers.append(None)
        columns = ", ".join(ops.quote_name(str(field.column)) for field in self.insert_fields)
        self.row_placeholders = "(" + ", ".join(["%s"] * len(self.insert_fields)) + ")"
        table = ops.quote_name(Notification._meta.db_table)
        self.insert_sql = f"INSERT INTO {table} ({columns}) VALUES "
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"
        self.adapted: dict[datetime, Any] = {}

    def adapt_datetime(self, value: datetime | None) -> Any:
        # A row's created, modified and read_at are one value, and imported_at the same for all: adapt each once.
        if value is None:
            return None
        adapted = self.adapted.get(value)
        if adapted is None:
            adapted = self.adapted[value] = self.connection.ops.adapt_datetimefield_value(value)
        return adapted

    def insert(self, new: list[dict[str, Any]]) -> None:
        """Insert one row per dict of column values (by attname) in one transaction."""
        self.adapted = {}
        params = []
        for values in new:
            row = []
            for field, prepare, default in zip(self.insert_fields, self.preparers, self.defaults, strict=True):
                if field.attname not in values:
                    row.append(default)
                elif prepare is None:
                    row.append(values[field.attname])
                else:
                    row.append(prepare(values[field.attname]))
            params.append(row)
        with transaction.atomic(using=self.database), self.connection.cursor() as cursor:
            if self.connection.vendor == "sqlite":
                # SQLite's executemany() is a loop in C over one prepared statement: nothing is faster.
                cursor.executemany(self.insert_sql + self.row_placeholders, params)
                return
            if self.connection.vendor == "postgresql":
                # COPY: psycopg's C code writes the rows; a multi-row INSERT spent its time quoting them in Python.
                with cursor.cursor.copy(self.copy_sql) as copy:
                    for row in params:
                        copy.write_row(row)
                return
            # Elsewhere each row of executemany() is a round of the protocol: send rows many to a statement.
            per_statement = max(1, (self.connection.features.max_query_params or 65535) // len(self.insert_fields))
            for start in range(0, len(params), per_statement):
                chunk = params[start : start + per_statement]
                sql = self.insert_sql + ", ".join([self.row_placeholders] * len(chunk))
                cursor.execute(sql, [value for row in chunk for value in row])
