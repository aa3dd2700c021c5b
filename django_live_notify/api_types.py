"""The types of the public API: who a notification is for, and the data it carries.

Import this module once the app registry is ready (it imports the user model's base class), or under
``TYPE_CHECKING`` in a module that must import before it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypeAlias

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

__all__ = ["JSONDict", "Recipients", "RequestUser", "User", "UserId", "Users"]

#: A user: an instance of the project's user model (``AUTH_USER_MODEL``), which the API checks at run time.
User: TypeAlias = AbstractBaseUser

#: ``request.user``: a user, or ``AnonymousUser`` when nobody is signed in. Read state and preferences take it as
#: views have it. An anonymous user has no notifications (a count of 0, nothing to mark) and no preferences
#: (reading or changing them raises AttributeError).
RequestUser: TypeAlias = AbstractBaseUser | AnonymousUser

#: A user's primary key, where the API documents ids: an ``int``, a ``str`` or a ``UUID``.
UserId: TypeAlias = int | str | uuid.UUID

#: Many users: a ``QuerySet`` of the user model, or an iterable of saved users.
Users: TypeAlias = QuerySet[AbstractBaseUser] | Iterable[AbstractBaseUser]

#: Who :func:`~django_live_notify.notify` stores for: one user, or many.
Recipients: TypeAlias = AbstractBaseUser | QuerySet[AbstractBaseUser] | Iterable[AbstractBaseUser]

#: A dict that Django's JSON encoder can write: JSON's own values, and dates, decimals, UUIDs and lazy strings.
#: Its values are checked when it is encoded. ``Any`` is the honest type of a value: a ``dict`` is invariant
#: in its value type, so a narrower ``dict[str, JSONValue]`` would refuse a caller's ``dict[str, int]``.
JSONDict: TypeAlias = dict[str, Any]
