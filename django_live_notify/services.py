"""Read state under its documented name: see :mod:`django_live_notify.reading`."""

from .reading import latest_id, mark_all_read, mark_read, unread_count, unread_counts

__all__ = ["latest_id", "mark_all_read", "mark_read", "unread_count", "unread_counts"]
