from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "example_project.services"
    label = "services"
    verbose_name = "Home services"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import actions, rules  # noqa: F401  (register the demo's action handler and notification rules)
