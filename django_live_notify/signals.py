"""Signals a project can listen to."""

from django.dispatch import Signal

# Sent once per notify()/broadcast() batch, after the rows are stored (inside
# the caller's transaction). Arguments: ``notifications`` (list of Notification)
# or, for broadcasts, ``recipient_ids`` and ``notification_ids``.
notification_created = Signal()

# Sent when a user marks notifications read. Arguments: ``user``, ``ids``
# (list of ids, or None for "all of them"), ``count`` (how many changed).
notification_read = Signal()
