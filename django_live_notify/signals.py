"""Signals a project can listen to."""

from django.dispatch import Signal

# Sent once per notify()/broadcast() batch, after the rows are stored (inside
# the caller's transaction). Arguments: ``notifications`` (list of Notification)
# or, for broadcasts, ``recipient_ids`` and ``notification_ids``.
notification_created = Signal()

# Sent once per notify() call that folded notifications into unread rows of
# their group (``group_key``), after the rows are updated. Argument:
# ``notifications`` (the updated Notification rows, same ids as before).
notification_updated = Signal()

# Sent when a user marks notifications read. Arguments: ``user``, ``ids``
# (list of ids, or None for "all of them"), ``count`` (how many changed).
notification_read = Signal()
