"""What differs per database: the indexes each one gets."""

import pytest
from django.db import connection

from django_live_notify.models import Notification


def notification_indexes():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Notification._meta.db_table)
    return {name: details["columns"] for name, details in constraints.items() if details["index"]}


def test_conditional_indexes_are_partial_where_the_database_has_them_and_plain_elsewhere(db):
    indexes = notification_indexes()
    if connection.features.supports_partial_indexes:
        assert indexes["live_notify_unread"] == ["recipient_id", "id"]
        assert indexes["live_notify_unread_group"] == ["recipient_id", "group_key"]
    else:
        assert indexes["live_notify_unread"] == ["recipient_id", "read_at", "id"]
        assert indexes["live_notify_unread_group"] == ["recipient_id", "group_key", "read_at"]


def test_no_two_indexes_have_the_same_columns_where_partial_indexes_are_missing(db):
    if connection.features.supports_partial_indexes:
        pytest.skip(f"{connection.vendor} has partial indexes, which may share columns and differ by condition")
    columns = [tuple(value) for value in notification_indexes().values()]
    assert len(columns) == len(set(columns)), notification_indexes()
