from django.apps import AppConfig
from django.db.models.signals import post_save


class ServicesConfig(AppConfig):
    name = "example_project.services"
    label = "services"
    verbose_name = "Home services"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals

        post_save.connect(
            signals.notify_new_service_request,
            sender=self.get_model("ServiceRequest"),
            dispatch_uid="services.notify_new_service_request",
        )
        post_save.connect(
            signals.notify_order_status_change,
            sender=self.get_model("Order"),
            dispatch_uid="services.notify_order_status_change",
        )
        post_save.connect(
            signals.notify_new_message,
            sender=self.get_model("Message"),
            dispatch_uid="services.notify_new_message",
        )
