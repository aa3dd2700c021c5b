"""A process that calls notify() on command, for the fault and soak tests: ``python -m tests.live_sender``.

It runs on tests.settings_live (the servers' database and Redis) and reads one JSON
command per line on stdin: ``{"users": [user id, ...], "title": "...", "message": "..." (optional)}`` stores one
notification for those users with notify() and answers, once it is committed,
``{"ids": [[user id, notification id], ...], "committed": time}``, or ``{"error": "..."}``
when notify() raised. It stops at the end of its input.
"""

import json
import sys
import time

import django


def main() -> None:
    django.setup()
    from django.contrib.auth import get_user_model

    from django_live_notify import notify

    users = get_user_model().objects
    for line in sys.stdin:
        command = json.loads(line)
        try:
            rows = notify(
                users.filter(pk__in=command["users"]), title=command["title"], message=command.get("message", "")
            )
        except Exception as error:
            answer = {"error": f"{type(error).__name__}: {error}"}
        else:
            answer = {"ids": [[row.recipient_id, row.pk] for row in rows], "committed": time.time()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
