"""How notifications are stored: arguments checked once, recipients checked to be users, rows copied from one
template, and the bulk and ``INSERT ... SELECT`` writes. Grouping is in :mod:`.grouping`. Nothing here sends: see
:mod:`.sending`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import EmptyResultSet, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models
from django.db.models import BooleanField, Case, CharField, F, FilteredRelation, Func, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import Promise

from . import preferences
from .actions import clean_actions, has_safe_scheme
from .api_types import User, UserId
from .conf import live_settings
from .models import Notification


def in_list(user_ids: Sequence[UserId], db: str, field: str = "pk") -> Q | _AnyOf:
    """Return the condition "the user's pk (or ``field``, a user id) is one of ``user_ids``", with the ids in one
    parameter where the database can.

    Django's own ``pk__in=[...]`` prepares every id and, on PostgreSQL, has
    the server parse and plan them one by one: a second each at 100,000.
    PostgreSQL compares with an array (hashed), SQLite reads a JSON array
    (it takes 999 parameters at most, too few); MariaDB and MySQL get the ids
    inline.
    """
    connection = connections[db]
    pk = get_user_model()._meta.pk
    assert pk is not None  # A model always has one.
    if isinstance(pk, models.IntegerField) and all(type(value) is int for value in user_ids):
        values: list[Any] = list(user_ids)  # Already what the database takes: preparing each costs 2 µs.
    else:
        values = [pk.get_db_prep_value(value, connection) for value in user_ids]
    if connection.vendor == "postgresql":
        return _AnyOf(F(field), values)
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__in": RawSQL("SELECT value FROM json_each(%s)", [json.dumps(values)])})
    return Q(**{f"{field}__in": RawSQL(", ".join(["%s"] * len(values)), values)})


class _AnyOf(Func):
    """``column = ANY(%s)``: PostgreSQL's comparison with every element of one array parameter."""

    output_field = BooleanField()

    def __init__(self, expression: Any, values: list[Any]) -> None:
        super().__init__(expression)
        self.values = values

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra_context: Any) -> tuple[str, tuple[Any, ...]]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"{sql} = ANY(%s)", (*params, self.values)


def insert_select(template: Notification, recipients: models.QuerySet[User], db: str) -> int:
    """``INSERT INTO notification (...) SELECT ...``: one copy of ``template`` per recipient that wants it.

    The recipients' preferences for the type are read in the same statement,
    by one outer join: "off" users get no row, "store" users a silent one.
    Return the row count.
    """
    recipients, silent = wanting(template.notification_type, recipients)
    return insert_from(Notification, row_values(template, "pk", silent), recipients, db)


def wanting(notification_type: str, recipients: models.QuerySet[User]) -> tuple[models.QuerySet[User], Any]:
    """Return ``recipients`` less those who turned ``notification_type`` off, and the expression "chose store only".

    One outer join of the preferences: a user's choice, else the type's default. Mandatory types reach everyone.
    """
    if preferences.is_mandatory(notification_type):
        return recipients, Value(False)
    choice = FilteredRelation(
        "live_notify_preferences", condition=Q(live_notify_preferences__notification_type=notification_type)
    )
    delivery = Coalesce(
        F("live_notify_choice__delivery"),
        Value(preferences.default_delivery(notification_type)),
        output_field=CharField(),
    )
    recipients = (
        recipients.annotate(live_notify_choice=choice)
        .alias(live_notify_delivery=delivery)
        .filter(live_notify_delivery__in=[preferences.LIVE, preferences.STORE])
    )
    silent = Case(
        When(live_notify_delivery=preferences.STORE, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    return recipients, silent


def row_values(template: Notification, recipient: str, silent: Any) -> dict[str, Any]:
    """Return what :func:`insert_from` writes into each column of a copy of ``template``: the field ``recipient``
    of the source rows, the expression ``silent``, and the template's value for every other column."""
    values: dict[str, Any] = {}
    for field in Notification._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.attname == "recipient_id":
            values[field.attname] = recipient
        elif field.attname == "silent":
            values[field.attname] = silent
        else:
            output = field.target_field if isinstance(field, models.ForeignKey) else field
            values[field.attname] = Value(field.pre_save(template, add=True), output_field=output)
    return values


def insert_from(model: type[models.Model], values: dict[str, Any], source: models.QuerySet[Any], db: str) -> int:
    """``INSERT INTO model (...) SELECT ... FROM source``; return the row count.

    ``values`` maps each column's attname to a field name of ``source`` or an
    expression over it (a ``Value`` for a constant).
    """
    connection = connections[db]
    columns: list[str] = []
    selected: list[str] = []
    expressions: dict[str, Any] = {}
    for attname, value in values.items():
        field = model._meta.get_field(attname)  # Found by attname too ("recipient_id").
        assert isinstance(field, models.Field)  # A column, not a reverse relation.
        columns.append(connection.ops.quote_name(str(field.column)))
        if isinstance(value, str):
            selected.append(value)
            continue
        alias = f"live_notify_{attname}"
        selected.append(alias)
        expressions[alias] = value
    # MySQL logs an INSERT ... SELECT in statement-based replication only if its row order is fixed;
    # elsewhere sorting would only cost (it spills to disk at 100,000 rows on PostgreSQL).
    if connection.vendor == "mysql":
        source = source.order_by(*(field.attname for field in source.model._meta.pk_fields))
    else:
        source = source.order_by()
    query = source.annotate(**expressions).values_list(*selected).query
    try:
        select_sql, params = query.get_compiler(using=db).as_sql()
    except EmptyResultSet:  # A QuerySet that selects nobody, such as none().
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) {select_sql}", params)
        count: int = cursor.rowcount
        return count


def build(
    title: object,
    message: object,
    notification_type: object,
    sender: User | None,
    target: models.Model | None,
    url: object,
    data: object,
    group_key: object,
    actions: object,
    expires_at: object,
) -> Notification:
    """Validate the arguments once and return an unsaved template row (those typed ``object`` are checked here)."""
    notification_type = notification_type or live_settings.default_notification_type
    if group_key is None:
        group_key = ""
    strings = {
        "title": title,
        "message": message,
        "url": url,
        "notification_type": notification_type,
        "group_key": group_key,
    }
    checked: dict[str, str] = {}
    for name, value in strings.items():
        if isinstance(value, Promise):
            # gettext_lazy() and reverse_lazy(): resolved now, in the active language.
            value = str(value)
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, not {type(value).__name__}")
        checked[name] = value
    title, message, url, notification_type, group_key = checked.values()
    if not title.strip():
        raise ValueError("title must not be empty")
    if not has_safe_scheme(url):
        raise ValueError(f"url must be relative or http(s), not {url!r}")
    allowed = live_settings.allowed_types
    if allowed is not None and notification_type not in allowed:
        raise ValueError(
            f"Unknown notification_type {notification_type!r}; LIVE_NOTIFY['NOTIFICATION_TYPES'] allows "
            + ", ".join(repr(value) for value, _label in live_settings.notification_types or ())
        )
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TypeError(f"data must be a dict, not {type(data).__name__}")
    # Round-trip through JSON so the live payload equals what the database returns later.
    data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    now = timezone.now()
    if expires_at is not None:
        if not isinstance(expires_at, datetime):
            raise TypeError(f"expires_at must be a datetime, not {type(expires_at).__name__}")
        if settings.USE_TZ and timezone.is_naive(expires_at):
            raise ValueError("expires_at must be timezone-aware")
        if expires_at <= now:
            raise ValueError("expires_at must be in the future")
    template = Notification(
        sender=sender,  # type: ignore[misc]  # AUTH_USER_MODEL, which django-stubs knows as its own setting's model
        notification_type=notification_type,
        title=title,
        message=message,
        url=url,
        data=data,
        group_key=group_key,
        actions=clean_actions(actions),
        expires_at=expires_at,
        created=now,
        modified=now,
    )
    if target is not None:
        if target.pk is None:
            raise ValueError("target must be saved before it can be notified about")
        template.target_content_type = ContentType.objects.get_for_model(target)
        template.target_object_id = str(target.pk)
    for field in ("title", "notification_type", "url", "group_key"):
        # CharFields: their max_length is set.
        max_length: int = Notification._meta.get_field(field).max_length  # type: ignore[union-attr,assignment]
        if len(getattr(template, field)) > max_length:
            raise ValueError(f"{field} is longer than {max_length} characters")
    return template


def copy_row(template: Notification, recipient_id: Any, silent: bool = False) -> Notification:
    row = Notification(
        recipient_id=recipient_id,
        sender=template.sender,
        notification_type=template.notification_type,
        title=template.title,
        message=template.message,
        url=template.url,
        data=template.data,
        target_content_type_id=template.target_content_type_id,
        target_object_id=template.target_object_id,
        group_key=template.group_key,
        actions=template.actions,
        expires_at=template.expires_at,
        silent=silent,
        created=template.created,
        modified=template.modified,
    )
    return row


def distinct_ids(users: object, name: str) -> list[Any]:
    """Return the distinct primary keys of ``users`` (a QuerySet or an iterable of saved users), in order.

    ``name`` is the argument's name in the error raised for anything else.
    """
    if isinstance(users, models.QuerySet):
        check_user_queryset(users, name)
        values: Iterable[Any] = users.values_list("pk", flat=True)
    elif isinstance(users, (str, bytes)) or not isinstance(users, Iterable):
        label = get_user_model()._meta.label
        raise TypeError(f"{name} must be a saved {label} (or an iterable or QuerySet of them), not {describe(users)}")
    else:
        values = [user_pk(user, name) for user in users]
    return list(dict.fromkeys(values))


def user_pk(user: object, name: str) -> Any:
    """Return the primary key of ``user`` if it is a saved instance of the user model; raise TypeError otherwise.

    Any other model would do as well by its pk alone: a Group with pk 1 would notify user 1.
    """
    user_model = get_user_model()
    if not isinstance(user, user_model) or user.pk is None:
        raise TypeError(
            f"{name} must be a saved {user_model._meta.label} (or an iterable or QuerySet of them), "
            f"not {describe(user)}"
        )
    return user.pk


def user_id_of(value: object, name: str) -> Any:
    """Return ``value`` as a primary key of the user model; raise TypeError if it cannot be one."""
    user_model = get_user_model()
    if isinstance(value, (str, int, uuid.UUID)) and not isinstance(value, bool):
        try:
            return user_model._meta.pk.to_python(value)
        except ValidationError:
            pass
    raise TypeError(f"{name} must hold {user_model._meta.label} ids or instances, not {describe(value)}")


def recipients_of(users: models.QuerySet[models.Model], db: str) -> models.QuerySet[User]:
    """Return the users of ``users`` (checked to be a QuerySet of the user model) on ``db``, each once.

    A QuerySet that reads the user table alone (no join, slice, distinct,
    grouping, annotation or union) is taken as it is. Any other goes
    through ``pk IN (its pks)``, which drops the duplicates a join can give,
    at the cost of a semi-join of the user table with itself: about a third
    more CPU for the whole broadcast at 100,000 users on PostgreSQL.
    """
    check_user_queryset(users, "users")
    user_model = get_user_model()
    manager = user_model._default_manager.using(db)
    query = users.query
    plain = (
        users.model is user_model
        and users.db == db
        and len(query.alias_map) <= 1
        and not query.is_sliced
        and not query.distinct
        and not query.combinator
        and query.group_by is None
        and not query.annotations
        and not query.extra
        and not query.extra_tables
        and not query.values_select
        and not query.select_for_update
        and not manager.all().query.where  # The pk IN path applies the default manager's filter too.
    )
    if not plain and query.is_sliced and not connections[db].features.allow_sliced_subqueries_with_in:
        # MariaDB and MySQL refuse "IN (SELECT ... LIMIT n)": the ids are read first.
        user_ids = list(dict.fromkeys(users.values_list("pk", flat=True)))
        return manager.filter(in_list(user_ids, db)) if user_ids else manager.none()
    if not plain:
        return manager.filter(pk__in=users.values("pk"))
    recipients = manager.all()
    recipients.query = query.chain()
    return recipients


def check_user_queryset(users: models.QuerySet[models.Model], name: str) -> None:
    user_model = get_user_model()
    if not issubclass(users.model, user_model):
        raise TypeError(f"{name} must be a QuerySet of {user_model._meta.label}, not {describe(users)}")


def describe(value: object) -> str:
    """Name what was passed, with its model or type, for an error message."""
    if isinstance(value, models.QuerySet):
        return f"a QuerySet of {value.model._meta.label}"
    if isinstance(value, models.Model):
        unsaved = "an unsaved " if value.pk is None else ""
        return f"{unsaved}{value._meta.label} {value!r}"
    return f"{type(value).__name__} {value!r}"


def bulk_insert(rows: list[Notification]) -> None:
    Notification.objects.bulk_create(rows, batch_size=live_settings.batch_size)
    if rows and rows[0].pk is None:
        # Databases that do not return ids from a bulk insert (MySQL): read them back.
        ids = dict(
            Notification.objects.filter(
                created=rows[0].created, title=rows[0].title, recipient_id__in=[row.recipient_id for row in rows]
            ).values_list("recipient_id", "id")
        )
        for row in rows:
            row.pk = ids.get(row.recipient_id)
