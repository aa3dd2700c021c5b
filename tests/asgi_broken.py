"""An asgi.py that fails on import with something other than ImportError (system check W003)."""

raise RuntimeError("REDIS_URL is not set")
