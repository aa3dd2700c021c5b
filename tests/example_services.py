"""The example project's models in the test project, for the snippets of the docs (tests/test_docs.py)."""

from django.apps import AppConfig


class ExampleServicesModels(AppConfig):
    """Install only the models of example_project.services: service requests, orders and chats.

    The docs speak of them, so their snippets run against them. This config's ready() does not
    import the demo's rules and action handler, which would fire in every test that saves these
    models and would change the registries other tests look at.
    """

    name = "example_project.services"
    label = "services"
    default_auto_field = "django.db.models.BigAutoField"
