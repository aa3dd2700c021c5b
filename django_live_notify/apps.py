from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiveNotifyConfig(AppConfig):
    name = "django_live_notify"
    verbose_name = _("Live notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (checks register themselves)

        receivers.connect()
        preload_channel_layer_backend()


def preload_channel_layer_backend() -> None:
    """Import the channel layer's backend class now, at startup.

    Importing channels-redis (and redis-py with it) takes over 100 ms. Left to
    the first socket or notify(), it would stall a server's event loop, and
    every socket on it, while it runs.
    """
    from django.conf import settings
    from django.utils.module_loading import import_string

    from .conf import live_settings

    config = getattr(settings, "CHANNEL_LAYERS", None) or {}
    backend = (config.get(live_settings.channel_layer) or {}).get("BACKEND")
    if isinstance(backend, str):
        try:
            import_string(backend)
        except ImportError:
            pass  # channels raises its own clear error when the layer is first used.
