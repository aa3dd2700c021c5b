"""The default of every ``LIVE_NOTIFY`` key, each with what it means; conf.py reads them (as Django's
global_settings.py is apart from its settings object)."""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULTS"]

DEFAULTS: dict[str, Any] = {
    # Seconds between client heartbeats; the JS client reads it from the template tag.
    "HEARTBEAT_INTERVAL": 30,
    # Seconds of silence after which the server closes a socket; None = 2.5 heartbeat intervals.
    "IDLE_TIMEOUT": None,
    # Most notifications replayed in answer to one ``resume``.
    "REPLAY_LIMIT": 100,
    # Allowed notification types as (value, label) pairs; None allows any string.
    "NOTIFICATION_TYPES": None,
    "DEFAULT_NOTIFICATION_TYPE": "system",
    # Page size of the history page and the JSON API.
    "PAGE_SIZE": 20,
    # Largest client frame in bytes; bigger frames close the socket (1009, or 4009 under daphne).
    "MAX_MESSAGE_SIZE": 64 * 1024,
    # Frames one user's sockets may send in one second, together, per process; the first frame over it is
    # answered "rate_limited", later ones in that second are dropped, and a socket still over it after
    # 5 such seconds in a row is closed (1008, or 4008 under daphne). 0 = no limit.
    "MAX_MESSAGES_PER_SECOND": 20,
    # Rows one user's resumes may replay per minute, per process (each resume counts one more); a resume
    # past it waits until the budget refills. 0 = no limit.
    "MAX_REPLAYED_PER_MINUTE": 1000,
    # Sockets of one user in one server process; past it the oldest is closed (4005). 0 = no limit.
    "MAX_CONNECTIONS_PER_USER": 20,
    # Seconds a socket token (POST notifications/api/token/) stays valid for connecting.
    "TOKEN_MAX_AGE": 60,
    # Close code for oversized frames; None sends 1009, or 4009 where the server refuses 1009 (daphne).
    "TOO_BIG_CLOSE_CODE": None,
    # Web Push (docs/push.rst): the VAPID key pair as base64url (``manage.py live_notify_vapid_keys`` makes one)
    # and the contact push services may write to, a "mailto:" or "https:" URL.
    "WEBPUSH_VAPID_PRIVATE_KEY": "",
    "WEBPUSH_VAPID_PUBLIC_KEY": "",
    "WEBPUSH_VAPID_SUBJECT": "",
    # Seconds a push service keeps a push for a device that is offline; 0 = deliver now or never.
    "WEBPUSH_TTL": 24 * 60 * 60,
    # Push urgency: "very-low", "low", "normal" or "high" (high wakes a phone that saves battery).
    "WEBPUSH_URGENCY": "normal",
    # Per notification type: {"security": {"ttl": 600, "urgency": "high"}}; missing keys use the two above.
    "WEBPUSH_TYPE_OPTIONS": {},
    # Seconds one request to a push service may take.
    "WEBPUSH_TIMEOUT": 10,
    # Seconds the read token in a push stays valid: a click on an older push opens the page but marks nothing.
    "WEBPUSH_READ_TOKEN_MAX_AGE": 7 * 24 * 60 * 60,
    # Scope of the service worker, served from notifications/push/sw.js with a Service-Worker-Allowed header.
    "WEBPUSH_SERVICE_WORKER_SCOPE": "/",
    # Alias in CHANNEL_LAYERS used to reach other server processes.
    "CHANNEL_LAYER": "default",
    # Prefix of the channel-layer group and channel names this app uses.
    "GROUP_PREFIX": "live_notify",
    # Rows per INSERT of notify() to many users, and users per query where ids are listed.
    "BATCH_SIZE": 1000,
    # Path of the WebSocket route.
    "WEBSOCKET_PATH": "ws/notifications/",
    # Delivery of each notification type for users who chose nothing: "live", "store" or "off".
    # A type not in it is "live".
    "PREFERENCE_DEFAULTS": {},
    # Preference rows one user may have: a change that would make more is refused.
    "MAX_PREFERENCES": 100,
    # Types users cannot turn off or silence (security notices): always delivered live.
    "MANDATORY_TYPES": [],
    # Most actions (buttons) one notification may carry.
    "MAX_ACTIONS": 3,
    # Frames queued for one socket before it counts as fallen behind and is dropped (4010).
    "MAX_PENDING_FRAMES": 256,
    # Seconds one write to a socket may wait for the client to read before the socket is dropped (4010).
    "WRITE_TIMEOUT": 10,
    # Days a read notification is kept before live_notify_cleanup deletes it; None keeps them.
    "RETENTION_DAYS": 90,
    # Delivery channels beyond the socket (docs/channels.rst): dotted paths of DeliveryBackend subclasses.
    "DELIVERY_BACKENDS": [],
    # How work reaches the delivery worker after commit: "worker" (a message on the channel layer to
    # ``runworker live-notify-delivery``, plus live_notify_deliver's sweep), "sweep" (the sweep only), or
    # "inline" (FOR DEVELOPMENT AND TESTS ONLY: sends in the committing thread, ignoring delays).
    "DELIVERY_MODE": "worker",
    # Channel-layer channel that the delivery worker consumes.
    "DELIVERY_CHANNEL": "live-notify-delivery",
    # Per channel, the policy of some types: {"webpush": {"security": "always"}}; others use the backend's.
    "DELIVERY_POLICIES": {},
    # Seconds the "offline" policy waits for a row to be seen or read on an open tab before sending it.
    "DELIVERY_OFFLINE_GRACE": 10,
    # Per channel, whether each type goes out over it for users who chose nothing:
    # {"email": {"default": True, "chat": False}}. A channel not in it is on for every type.
    "CHANNEL_DEFAULTS": {},
    # Attempts of one row before it is marked failed; seconds of the first retry, doubled each time, and the most.
    "DELIVERY_MAX_ATTEMPTS": 8,
    "DELIVERY_RETRY_BASE": 30,
    "DELIVERY_RETRY_MAX": 3600,
    # Rows one worker claims at a time.
    "DELIVERY_BATCH_SIZE": 200,
    # Seconds after which a claimed row that no worker started sending goes back to pending, and a row
    # left "sending" (its worker died mid-send) is marked unknown and never sent again.
    "DELIVERY_CLAIM_TIMEOUT": 300,
    # Hours back that the sweep looks for notifications with no delivery record yet (a lost message).
    "DELIVERY_LOOKBACK_HOURS": 24,
    # Minutes a notification must stay unread and unseen before it is emailed, per type; "default" for the rest.
    "EMAIL_DELAY_MINUTES": {"default": 30},
    # Least minutes between two emails to one user: what comes due meanwhile goes out as one digest.
    "EMAIL_DIGEST_MINUTES": 10,
    # Most emails to one user in one hour; 0 = no limit.
    "EMAIL_MAX_PER_HOUR": 4,
    # Scheme and host of links in emails (the unsubscribe URL): "https://example.com".
    "EMAIL_BASE_URL": "",
    # From address of notification emails; None = DEFAULT_FROM_EMAIL.
    "EMAIL_FROM": None,
    # Record Prometheus metrics (with the ``metrics`` extra installed); False makes every metric call a no-op.
    "METRICS": True,
    # Client addresses or networks (CIDR) that may read the metrics view without a token.
    "METRICS_ALLOWED_IPS": ["127.0.0.1", "::1"],
    # A bearer token that may read the metrics view from any address; None accepts no token.
    "METRICS_TOKEN": None,
    # Record delivery, seen and click times (acks from clients, see docs/analytics.rst); False sends and keeps none.
    "ANALYTICS": True,
    # Milliseconds a client gathers acks before sending them in one frame.
    "ACK_INTERVAL": 250,
}
