"""What one user's sockets may cost a server process: frames per second, and rows replayed by ``resume``.

Budgets are per user and per process (per event loop, like the hub),
shared by all of the user's sockets there, so opening more sockets buys no
more. A user's budget lives while they have a socket in the process, and
after their last one goes until it would be back to full (at most a minute),
so closing and reopening sockets does not reset it either. Everything runs
on the event loop: no locks.
"""

from __future__ import annotations

import asyncio
import heapq
import time
import weakref
from enum import Enum

from .conf import live_settings

__all__ = ["ABUSIVE_WINDOWS", "Admission", "UserBudget", "acquire", "release"]

# Windows over MAX_MESSAGES_PER_SECOND in a row after which a socket still sending over it is closed (1008).
ABUSIVE_WINDOWS = 5
# Frames over MAX_MESSAGES_PER_SECOND times this, within one second, close at once.
FLOOD_FACTOR = 10


class Admission(Enum):
    """What to do with one frame a socket sent."""

    ANSWER = "answer"
    WARN = "warn"  # The first frame over the limit in its window: answer it rate_limited, nothing more.
    DROP = "drop"  # Later frames over the limit in the same window: ignore them without a reply.
    FIRST_CLOSE = "first_close"  # Over the limit for ABUSIVE_WINDOWS windows in a row: close the socket (1008)...
    CLOSE = "close"  # ... and every further socket that sends over the limit while the streak lasts.


class UserBudget:
    """Count one user's frames in one-second windows, and meter the rows their resumes replay.

    Rows are a token bucket of ``MAX_REPLAYED_PER_MINUTE``, full to start with
    and refilled evenly over a minute. A resume may start while the bucket is
    not empty and is charged what it replayed, plus one for its own frames;
    one resume of the user runs at a time.
    """

    def __init__(self, now: float) -> None:
        self.sockets = 0
        self.window_start = now
        self.window_count = 0
        self.warned = False
        self.over_in_a_row = 0
        self.rows = float(live_settings.max_replayed_per_minute)
        self.rows_at = now
        self.resume_lock = asyncio.Lock()

    def admit(self) -> Admission:
        """Count one frame and say what to do with it."""
        limit = live_settings.max_messages_per_second
        if not limit:
            return Admission.ANSWER
        now = _now()
        elapsed = now - self.window_start
        if elapsed >= 1.0:
            # Only the very next window continues a streak: a quiet second ends it.
            if self.window_count <= limit or elapsed >= 2.0:
                self.over_in_a_row = 0
            self.window_start, self.window_count, self.warned = now, 0, False
        self.window_count += 1
        if self.window_count <= limit:
            return Admission.ANSWER
        if self.window_count > limit * FLOOD_FACTOR and self.over_in_a_row < ABUSIVE_WINDOWS:
            # Many times the limit within one second is no client's heartbeat: close now, not after a streak.
            self.over_in_a_row, self.warned = ABUSIVE_WINDOWS, False
            return Admission.FIRST_CLOSE
        if self.window_count == limit + 1:
            self.over_in_a_row += 1
        if self.over_in_a_row >= ABUSIVE_WINDOWS:
            first = self.over_in_a_row == ABUSIVE_WINDOWS and not self.warned
            self.warned = True
            return Admission.FIRST_CLOSE if first else Admission.CLOSE
        if not self.warned:
            self.warned = True
            return Admission.WARN
        return Admission.DROP

    def _refill(self, now: float) -> float:
        """Bring the bucket up to ``now``; return its capacity (0: no limit)."""
        capacity = live_settings.max_replayed_per_minute
        if capacity:
            self.rows = min(capacity, self.rows + (now - self.rows_at) * capacity / 60.0)
        self.rows_at = now
        return capacity

    def resume_wait(self) -> float:
        """Return the seconds until a resume may start: 0 when the bucket is not empty."""
        capacity = self._refill(_now())
        if not capacity or self.rows > 0:
            return 0.0
        return (1.0 - self.rows) * 60.0 / capacity

    def charge_resume(self, replayed: int) -> None:
        """Take what a resume cost from the bucket: its replayed rows, plus one."""
        if self._refill(_now()):
            self.rows -= replayed + 1

    def at_rest(self, now: float) -> float:
        """Return when this budget holds nothing worth keeping: its bucket full and no streak to continue."""
        capacity = live_settings.max_replayed_per_minute
        self._refill(now)
        full_at = now + (capacity - self.rows) * 60.0 / capacity if capacity else now
        streak_until = self.window_start + 2.0 if self.over_in_a_row else now
        return max(full_at, streak_until)


class _Budgets:
    """The budgets of one event loop: by user key, and (when at rest, user key) of those without sockets."""

    def __init__(self) -> None:
        self.by_user: dict[str, UserBudget] = {}
        self.resting: list[tuple[float, str]] = []

    def forget_rested(self, now: float) -> None:
        while self.resting and self.resting[0][0] <= now:
            _at, key = heapq.heappop(self.resting)
            budget = self.by_user.get(key)
            if budget is None or budget.sockets:
                continue
            rest_at = budget.at_rest(now)
            if rest_at <= now:
                del self.by_user[key]
            else:
                heapq.heappush(self.resting, (rest_at, key))


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Budgets] = weakref.WeakKeyDictionary()


def _now() -> float:
    return time.monotonic()


def _budgets() -> _Budgets:
    loop = asyncio.get_running_loop()
    budgets = _loops.get(loop)
    if budgets is None:
        budgets = _loops[loop] = _Budgets()
    return budgets


def acquire(user_key: str) -> UserBudget:
    """Return the budget of ``user_key`` for one more of their sockets."""
    now = _now()
    budgets = _budgets()
    budgets.forget_rested(now)
    budget = budgets.by_user.get(user_key)
    if budget is None:
        budget = budgets.by_user[user_key] = UserBudget(now)
    budget.sockets += 1
    return budget


def release(user_key: str) -> None:
    """Give back the budget of a socket of ``user_key`` that went; forget it once it holds nothing."""
    now = _now()
    budgets = _budgets()
    budget = budgets.by_user.get(user_key)
    if budget is not None:
        budget.sockets = max(0, budget.sockets - 1)
        if not budget.sockets:
            rest_at = budget.at_rest(now)
            if rest_at <= now:
                del budgets.by_user[user_key]
            else:
                heapq.heappush(budgets.resting, (rest_at, user_key))
    budgets.forget_rested(now)
