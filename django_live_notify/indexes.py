"""Indexes of a large, busy table: index classes that fit each database, and migration operations that change
indexes without blocking the table's writes.

``ConditionalIndex`` and ``ConditionalUniqueConstraint`` are partial where the database has partial indexes and
plain elsewhere; the models use them through models.py, where migrations name them.

On PostgreSQL the operations build and drop indexes ``CONCURRENTLY``: the table takes
inserts and updates meanwhile, and the build takes longer. Elsewhere they are
the plain operations: SQLite locks the database for the build anyway, and
MariaDB and MySQL (InnoDB) build secondary indexes online by themselves.
``CONCURRENTLY`` cannot run inside a transaction, so a migration using them
sets ``atomic = False``; inside a transaction they fall back to the plain,
blocking statement rather than fail.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

__all__ = [
    "AddIndexOnline",
    "AddUniqueIndexOnline",
    "ConditionalIndex",
    "ConditionalUniqueConstraint",
    "DropFieldIndex",
    "DropFieldUnique",
    "RemoveIndexOnline",
]


def _concurrently(schema_editor: BaseDatabaseSchemaEditor) -> dict[str, bool]:
    """Return the keyword that makes the schema editor build concurrently, where it can."""
    connection = schema_editor.connection
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return {"concurrently": True}
    return {}


class AddIndexOnline(migrations.AddIndex):
    """Add an index: ``CREATE INDEX CONCURRENTLY`` on PostgreSQL, a plain ``CREATE INDEX`` elsewhere."""

    def describe(self) -> str:
        return super().describe() + " (concurrently on PostgreSQL)"

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **_concurrently(schema_editor))

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **_concurrently(schema_editor))


class RemoveIndexOnline(migrations.RemoveIndex):
    """Remove an index: ``DROP INDEX CONCURRENTLY`` on PostgreSQL, a plain ``DROP INDEX`` elsewhere."""

    def describe(self) -> str:
        return super().describe() + " (concurrently on PostgreSQL)"

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.remove_index(model, index, **_concurrently(schema_editor))

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.add_index(model, index, **_concurrently(schema_editor))


class DropFieldIndex(migrations.AlterField):
    """Turn ``db_index`` off for a field: drop the index Django made for it, and only that.

    A plain ``AlterField`` would do it too, but SQLite then copies the whole
    table to change nothing else. On MariaDB and MySQL, the index of a foreign
    key stays unless another index leads with its column: InnoDB needs one.
    """

    def __init__(self, model_name: str, name: str, field: models.Field, preserve_default: bool = True) -> None:
        if getattr(field, "db_index", False):
            raise ValueError(f"DropFieldIndex({model_name!r}, {name!r}) needs the field with db_index=False")
        super().__init__(model_name, name, field, preserve_default)

    def describe(self) -> str:
        return f"Drop the index of field {self.name} on {self.model_name}"

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        field = model._meta.get_field(self.name)
        named = {index.name for index in model._meta.indexes}
        names = schema_editor._constraint_names(
            model, [field.column], index=True, type_=models.Index.suffix, exclude=named
        )
        if names and schema_editor.connection.vendor == "mysql" and field.remote_field is not None:
            with schema_editor.connection.cursor() as cursor:
                indexes = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
            if not any(
                info["index"] and info["columns"][:1] == [field.column] and name not in names
                for name, info in indexes.items()
            ):
                return
        for name in names:
            schema_editor.execute(schema_editor._delete_index_sql(model, name, **_concurrently(schema_editor)))

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            field = model._meta.get_field(self.name)
            schema_editor.execute(
                schema_editor._create_index_sql(model, fields=[field], **_concurrently(schema_editor))
            )


class AddUniqueIndexOnline(migrations.AddConstraint):
    """Add a unique constraint that is an index (one with a condition, on PostgreSQL): ``CREATE UNIQUE INDEX
    CONCURRENTLY`` on PostgreSQL, the plain statement elsewhere."""

    def describe(self) -> str:
        return super().describe() + " (concurrently on PostgreSQL)"

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        statement: Any = self.constraint.create_sql(model, schema_editor)
        if statement is None:
            return
        if _concurrently(schema_editor):
            if not statement.template.startswith("CREATE UNIQUE INDEX "):
                raise ValueError(f"{self.constraint.name} is not built as an index, so not concurrently")
            statement.template = statement.template.replace("CREATE UNIQUE INDEX", "CREATE UNIQUE INDEX CONCURRENTLY")
        schema_editor.execute(statement)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if _concurrently(schema_editor):
            schema_editor.execute(schema_editor._delete_index_sql(model, self.constraint.name, concurrently=True))
        else:
            # Not remove_constraint(), which rebuilds the whole table on SQLite.
            schema_editor.execute(self.constraint.remove_sql(model, schema_editor))


class DropFieldUnique(migrations.AlterField):
    """Turn ``unique`` off for a field: drop its unique constraint (and, on PostgreSQL, its ``_like`` index),
    without rebuilding the table where the database can.

    SQLite cannot drop a column's inline ``UNIQUE``: there the table is rebuilt, as ``AlterField`` does. On
    PostgreSQL the constraint's drop takes the table's lock for a moment (no scan); the ``_like`` index is
    dropped concurrently.
    """

    def __init__(self, model_name: str, name: str, field: models.Field, preserve_default: bool = True) -> None:
        if getattr(field, "_unique", False):
            raise ValueError(f"DropFieldUnique({model_name!r}, {name!r}) needs the field with unique=False")
        super().__init__(model_name, name, field, preserve_default)

    def describe(self) -> str:
        return f"Drop the unique constraint of field {self.name} on {self.model_name}"

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        connection = schema_editor.connection
        if connection.vendor == "sqlite":
            # The rebuilt table gets the model's constraints, so those already built go first.
            model = to_state.apps.get_model(app_label, self.model_name)
            with connection.cursor() as cursor:
                existing = connection.introspection.get_constraints(cursor, model._meta.db_table)
            for constraint in model._meta.constraints:
                if constraint.name in existing:
                    schema_editor.execute(constraint.remove_sql(model, schema_editor))
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(connection.alias, model):
            return
        column = model._meta.get_field(self.name).column
        named = {constraint.name for constraint in model._meta.constraints}
        for name in schema_editor._constraint_names(model, [column], unique=True, primary_key=False, exclude=named):
            schema_editor.execute(schema_editor._delete_unique_sql(model, name))
        if connection.vendor == "postgresql":
            like = schema_editor._create_index_name(model._meta.db_table, [column], suffix="_like")
            if like in schema_editor._constraint_names(model, [column], index=True):
                schema_editor.execute(schema_editor._delete_index_sql(model, like, **_concurrently(schema_editor)))

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        # Back to a unique column: the plain AlterField (on PostgreSQL it builds the _like index as well).
        super().database_forwards(app_label, schema_editor, from_state, to_state)


# ---------------------------------------------------------------------- index classes of the models


class ConditionalIndex(models.Index):
    """Index the rows that match ``where`` where the database has partial indexes, else (MySQL, MariaDB) index
    ``plain_fields`` for the same queries: a ``condition`` would be dropped there, with warning models.W037,
    leaving the columns alone, which may copy another index."""

    def __init__(self, *, where: models.Q, plain_fields: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.where = where
        self.plain_fields = list(plain_fields)

    def deconstruct(self) -> Any:
        path, args, kwargs = super().deconstruct()
        return _models_path(path), args, {**kwargs, "where": self.where, "plain_fields": self.plain_fields}

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        if schema_editor.connection.features.supports_partial_indexes:
            index = models.Index(fields=self.fields, name=self.name, condition=self.where)
        else:
            index = models.Index(fields=self.plain_fields, name=self.name)
        return index.create_sql(model, schema_editor, using=using, **kwargs)


class ConditionalUniqueConstraint(models.UniqueConstraint):
    """Make ``fields`` unique among the rows that match ``where`` where the database has partial indexes, else
    (MySQL, MariaDB) among all rows: give ``where`` only for a condition that NULL columns already express
    there, such as ``field__isnull=False``, since NULLs never collide in a unique index."""

    def __init__(self, *, where: models.Q, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.where = where

    def deconstruct(self) -> Any:
        path, args, kwargs = super().deconstruct()
        return _models_path(path), args, {**kwargs, "where": self.where}

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and isinstance(other, ConditionalUniqueConstraint) and self.where == other.where

    def _for(self, schema_editor: Any) -> models.UniqueConstraint:
        condition = self.where if schema_editor.connection.features.supports_partial_indexes else None
        return models.UniqueConstraint(fields=self.fields, name=self.name, condition=condition)

    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        return self._for(schema_editor).constraint_sql(model, schema_editor)

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        return self._for(schema_editor).create_sql(model, schema_editor)

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        return self._for(schema_editor).remove_sql(model, schema_editor)


def _models_path(path: str) -> str:
    """Name the class where migrations have always imported it from: models.py, which imports it from here."""
    return path.replace("django_live_notify.indexes.", "django_live_notify.models.")
