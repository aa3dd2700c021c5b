"""Reading django-notifications-hq's table and mapping its rows to notifications, for ``live_notify_import_hq``.

hq need not be installed: its table is read with plain SQL, in batches of ids, oldest first. Each row becomes the
column values of a :class:`~django_live_notify.models.Notification` (docs/migration.rst gives the mapping), which
bulk_insert.py writes. Nothing is sent to sockets and no signal is sent. Errors are ``CommandError``, worded for
the command's options.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import Truncator

from .bulk_insert import NotificationWriter
from .conf import live_settings
from .models import Notification

__all__ = ["BATCH_SIZE", "TABLE", "HqImporter"]

TABLE = "notifications_notification"
# Rows a batch reads and writes: fewer statements and commits than 1,000 a batch, at 0.4 s less CPU per 50,000.
BATCH_SIZE = 5000
# Most actor names kept from one batch to the next.
ACTOR_CACHE_SIZE = 100_000
# Present in every hq release: 0001_initial.
REQUIRED = ("id", "recipient_id", "actor_content_type_id", "actor_object_id", "verb", "timestamp", "unread", "level")
# Added later (deleted and emailed in 0002, data in 0003) or nullable: read when the table has them.
OPTIONAL = (
    "description",
    "target_content_type_id",
    "target_object_id",
    "action_object_content_type_id",
    "action_object_object_id",
    "public",
    "deleted",
    "emailed",
    "data",
)


class HqImporter:
    """Copy the rows of one hq table into notifications; rows already imported (by ``import_key``) are skipped.

    ``type_pairs`` are ``"LEVEL=TYPE"`` strings; ``error`` and ``progress`` receive the lines to write, those
    about single rows and the progress only while ``verbosity`` is above 0.
    """

    def __init__(
        self,
        *,
        table: str = TABLE,
        database: str = DEFAULT_DB_ALIAS,
        batch_size: int | None = None,
        type_pairs: Sequence[str] = (),
        archive_deleted: bool = False,
        dry_run: bool = False,
        verbosity: int = 1,
        error: Callable[[str], Any],
        progress: Callable[[str], Any],
    ) -> None:
        self.verbosity = verbosity
        self.write_error = error
        self.write_progress = progress
        self.database = database
        self.table = table
        self.connection = connections[self.database]
        if batch_size is None:
            # A batch's ids go into one IN (...) of its read and of its key lookup.
            batch_size = min(BATCH_SIZE, self.connection.features.max_query_params or BATCH_SIZE)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        self.batch_size = batch_size
        self.columns = self.read_columns()
        self.type_of_level = self.level_types(list(type_pairs))
        self.key_prefix = "hq:" if self.table == TABLE else f"hq:{self.table}:"
        self.user_model = get_user_model()
        self.user_pk = self.user_model._meta.pk
        self.counts: Counter[str] = Counter()
        self.content_types: dict[Any, ContentType | None] = {}
        self.actor_cache: dict[tuple[int, Any], str | None] = {}
        self.users_found: set[Any] = set()
        self.now = timezone.now()
        self.dry_run = dry_run
        self.archive_deleted = archive_deleted
        self.writer: NotificationWriter | None = None

    def read_columns(self) -> list[str]:
        """Return the columns of hq's table this release has; fail clearly if it is not hq's table."""
        with self.connection.cursor() as cursor:
            if self.table not in self.connection.introspection.table_names(cursor):
                raise CommandError(f"No table {self.table!r} in database {self.database!r}: nothing to import.")
            present = {
                column.name for column in self.connection.introspection.get_table_description(cursor, self.table)
            }
        missing = [column for column in REQUIRED if column not in present]
        if missing:
            raise CommandError(f"{self.table!r} is not django-notifications-hq's table: no column(s) {missing}.")
        return [*REQUIRED, *(column for column in OPTIONAL if column in present)]

    def level_types(self, pairs: list[str]) -> dict[str, str]:
        """Return the type of each level in the table, checked against NOTIFICATION_TYPES when it is set."""
        chosen = {}
        for pair in pairs:
            level, sep, notification_type = pair.partition("=")
            if not sep or not level or not notification_type:
                raise CommandError(f"--type takes LEVEL=TYPE, not {pair!r}.")
            chosen[level] = notification_type
        levels = [level for (level,) in self.query(f"SELECT DISTINCT {self.quote('level')} FROM {self.quote()}")]
        types = {level: chosen.get(level or "", level or live_settings.default_notification_type) for level in levels}
        allowed = live_settings.allowed_types
        if allowed is not None:
            unknown = sorted(f"{level!r} -> {t!r}" for level, t in types.items() if t not in allowed)
            if unknown:
                raise CommandError(
                    f"Levels whose type is not in LIVE_NOTIFY['NOTIFICATION_TYPES']: {', '.join(unknown)}. "
                    "Map them with --type LEVEL=TYPE, for instance --type info=system."
                )
        too_long = sorted(t for t in types.values() if len(t) > 64)
        if too_long:
            raise CommandError(f"Types are at most 64 characters: {too_long}.")
        return types

    def run(self) -> tuple[int, float]:
        """Import every row, a batch at a time; return the rows listed and the seconds the import took."""
        deleted = self.quote("deleted") if "deleted" in self.columns else "0"
        order = f"{self.quote('timestamp')}, {self.quote('id')}"
        listing = self.query(f"SELECT {self.quote('id')}, {deleted} FROM {self.quote()} ORDER BY {order}")
        ids = []
        for source_id, is_deleted in listing:
            if is_deleted and not self.archive_deleted:
                self.counts["soft-deleted"] += 1
            else:
                ids.append(source_id)
        total = len(ids)
        # A first run asks nothing per batch; a later one looks up each batch's keys (memory stays one batch's).
        # On PostgreSQL the prefix lookup uses the index Django adds for LIKE; elsewhere it may read the table once.
        self.first_run = not (
            Notification.objects.using(self.database).filter(import_key__startswith=self.key_prefix).exists()
        )
        started = time.monotonic()
        for start in range(0, total, self.batch_size):
            self.import_batch(ids[start : start + self.batch_size])
            done = min(start + self.batch_size, total)
            self.progress(f"read {done:,} of {total:,} row(s) in {time.monotonic() - started:.1f} s")
        return len(listing), time.monotonic() - started

    def import_batch(self, ids: list[Any]) -> None:
        keys = {source_id: f"{self.key_prefix}{source_id}" for source_id in ids}
        done: set[str | None] = set()
        if not self.first_run:
            done.update(
                Notification.objects.using(self.database)
                .filter(import_key__in=keys.values())
                .values_list("import_key", flat=True)
            )
        self.counts["already imported"] += len(done)
        wanted = [source_id for source_id in ids if keys[source_id] not in done]
        if not wanted:
            return
        columns = ", ".join(self.quote(column) for column in self.columns)
        placeholders = ", ".join(["%s"] * len(wanted))
        fetched = self.query(
            f"SELECT {columns} FROM {self.quote()} WHERE {self.quote('id')} IN ({placeholders})", wanted
        )
        by_id = {row[0]: dict(zip(self.columns, row, strict=True)) for row in fetched}
        rows = [by_id[source_id] for source_id in wanted if source_id in by_id]
        recipients = self.existing_users({row["recipient_id"] for row in rows})
        actors = self.actor_names(rows)
        new = []
        for row in rows:
            if self.user_id(row["recipient_id"]) not in recipients:
                self.counts["recipient gone"] += 1
                continue
            new.append(self.convert(row, keys[row["id"]], actors))
        if new and not self.dry_run:
            if self.writer is None:
                self.writer = NotificationWriter(self.database)
            self.writer.insert(new)
        self.counts["imported"] += len(new)
        self.counts["read"] += sum(1 for values in new if values["read_at"] is not None)
        self.counts["archived"] += sum(1 for values in new if "archived_at" in values)

    def convert(self, row: dict[str, Any], import_key: str, actors: dict[tuple[int, Any], Any]) -> dict[str, Any]:
        """Map one hq row to the column values of a Notification (see docs/migration.rst for the mapping)."""
        source_id = row["id"]
        data, extras = self.parse_data(source_id, row.get("data"))
        timestamp = self.aware(row["timestamp"])
        hq: dict[str, Any] = {
            "id": source_id,
            "level": row["level"],
            "emailed": bool(row.get("emailed", False)),
            "public": bool(row.get("public", True)),
        }
        sender_id = None
        actor_type = self.content_type(row["actor_content_type_id"])
        actor_key = (row["actor_content_type_id"], row["actor_object_id"])
        name = actors.get(actor_key)
        if self.is_user_type(actor_type) and name is not None:
            sender_id = self.user_id(row["actor_object_id"])
        else:
            hq["actor"] = self.reference(row["actor_content_type_id"], row["actor_object_id"])
            if name is None:
                hq["actor"]["deleted"] = True
                self.counts["actor gone"] += 1
            else:
                hq["actor"]["name"] = name
        action_object = row.get("action_object_content_type_id")
        if action_object is not None:
            hq["action_object"] = self.reference(action_object, row.get("action_object_object_id"))
        if extras is not None:
            hq.update(extras)
        url = ""
        if "url" in data:
            candidate = data["url"]
            if self.is_safe_url(candidate):
                url = data.pop("url")
            else:
                self.counts["url refused"] += 1
                self.report(source_id, f"url {candidate!r} is not a relative or http(s) URL of at most 500 characters")
        data["hq"] = hq
        verb = str(row["verb"] or "")
        title = f"{name} {verb}" if name is not None else verb
        target_type, target_id = row.get("target_content_type_id"), row.get("target_object_id")
        target_id = "" if target_id is None else str(target_id)
        if target_type is not None and len(target_id) > 255:
            hq["target"] = self.reference(target_type, target_id)
            self.counts["target id too long"] += 1
            target_type, target_id = None, ""
        if target_type is None:
            target_id = ""
        title = title.strip() or "(no verb)"
        values = {
            "recipient_id": self.user_id(row["recipient_id"]),
            "sender_id": sender_id,
            "notification_type": self.type_of_level[row["level"]],
            "title": Truncator(title).chars(255) if len(title) > 255 else title,
            "message": row.get("description") or "",
            "url": url,
            "data": data,
            "target_content_type_id": target_type,
            "target_object_id": target_id,
            "read_at": None if row["unread"] else timestamp,
            # History, not news: imported rows keep their read state but do not count as new in the bell.
            "seen_at": timestamp,
            "created": timestamp,
            "modified": timestamp,
            "import_key": import_key,
            "imported_at": self.now,
        }
        if row.get("deleted"):
            # Only with --deleted archive: hq's delete is our archive, which is read and seen too.
            values.update(archived_at=timestamp, read_at=values["read_at"] or timestamp)
        return values

    def parse_data(self, source_id: Any, raw: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Return hq's extra data as a dict, and what to keep under data["hq"] when it is not a JSON object."""
        if raw is None or raw == "":
            return {}, None
        if isinstance(raw, (bytes, memoryview)):
            raw = bytes(raw).decode("utf-8", "replace")
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except ValueError as error:
                self.counts["bad JSON data"] += 1
                self.report(source_id, f"data is not valid JSON ({error}); kept as text in data['hq']['data_text']")
                return {}, {"data_text": raw}
        else:
            value = raw  # A json or jsonb column: the driver has decoded it.
        if value is None:
            return {}, None
        if not isinstance(value, dict):
            self.counts["data not an object"] += 1
            return {}, {"data": value}
        return value, None

    def actor_names(self, rows: list[dict[str, Any]]) -> dict[tuple[int, Any], str | None]:
        """Return str() of each actor that still exists, by (content type id, object id); None for one gone.

        One query per model for the actors not met in an earlier batch: the same few actors send most
        notifications, and loading them again for every batch was a quarter of the import's time.
        """
        names = self.actor_cache
        if len(names) > ACTOR_CACHE_SIZE:
            names.clear()
        wanted: dict[int, set[Any]] = defaultdict(set)
        for row in rows:
            key = (row["actor_content_type_id"], row["actor_object_id"])
            if key not in names:
                wanted[key[0]].add(key[1])
        for content_type_id, object_ids in wanted.items():
            names.update(dict.fromkeys(((content_type_id, object_id) for object_id in object_ids), None))
            content_type = self.content_type(content_type_id)
            model = content_type.model_class() if content_type is not None else None
            if model is None:
                continue
            pk_field = model._meta.pk
            by_pk = {}
            for object_id in object_ids:
                try:
                    by_pk[pk_field.to_python(object_id)] = object_id
                except ValidationError:
                    continue
            try:
                found = model._default_manager.using(self.database).in_bulk(list(by_pk))
            except (DatabaseError, ValueError, TypeError) as error:
                self.write_error(f"Could not read actors of {content_type}: {error}; kept by reference only.")
                continue
            for pk, instance in found.items():
                names[(content_type_id, by_pk[pk])] = str(instance)
        return names

    def existing_users(self, raw_ids: set[Any]) -> set[Any]:
        """Return the ids among ``raw_ids`` of users that exist; users found in an earlier batch are not asked for."""
        ids = {self.user_id(raw_id) for raw_id in raw_ids} - {None}
        unknown = ids - self.users_found
        if unknown:
            manager = self.user_model._default_manager.using(self.database)
            self.users_found.update(manager.filter(pk__in=unknown).values_list("pk", flat=True))
        return ids & self.users_found

    def user_id(self, raw_id: Any) -> Any:
        try:
            return self.user_pk.to_python(raw_id)
        except ValidationError:
            return None

    def content_type(self, content_type_id: Any) -> ContentType | None:
        if content_type_id is None:
            return None
        try:
            return self.content_types[content_type_id]
        except KeyError:
            pass
        try:
            content_type = ContentType.objects.db_manager(self.database).get_for_id(content_type_id)
        except ContentType.DoesNotExist:
            content_type = None
        self.content_types[content_type_id] = content_type
        return content_type

    def is_user_type(self, content_type: ContentType | None) -> bool:
        model = content_type.model_class() if content_type is not None else None
        return model is not None and issubclass(model, self.user_model)

    def reference(self, content_type_id: Any, object_id: Any) -> dict[str, Any]:
        content_type = self.content_type(content_type_id)
        name = f"{content_type.app_label}.{content_type.model}" if content_type else f"unknown:{content_type_id}"
        return {"type": name, "id": "" if object_id is None else str(object_id)}

    @staticmethod
    def is_safe_url(url: Any) -> bool:
        if not isinstance(url, str) or not url.strip() or len(url) > 500:
            return False
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if parts.scheme in ("http", "https"):
            return bool(parts.netloc)
        return not parts.scheme and not parts.netloc

    @staticmethod
    def aware(value: Any) -> datetime:
        if isinstance(value, str):
            value = parse_datetime(value)
        if settings.USE_TZ and timezone.is_naive(value):
            # Databases without time zones hold UTC when USE_TZ is on.
            value = value.replace(tzinfo=UTC)
        return value

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def quote(self, name: str | None = None) -> str:
        return self.connection.ops.quote_name(self.table if name is None else name)

    def report(self, source_id: Any, problem: str) -> None:
        if self.verbosity:
            self.write_error(f"{self.table} id {source_id}: {problem}")

    def progress(self, text: str) -> None:
        """Write a progress line, unless quiet."""
        if self.verbosity:
            self.write_progress(text)
