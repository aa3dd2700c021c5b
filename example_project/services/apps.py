from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "example_project.services"
    label = "services"
    verbose_name = "Home services"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import rules  # noqa: F401  (registers the demo's notification rules)
