from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiveNotifyConfig(AppConfig):
    name = "django_live_notify"
    verbose_name = _("Live notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (checks register themselves)

        receivers.connect()
