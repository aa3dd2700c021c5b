"""The ASGI application of the example project: Django for HTTP, django-live-notify for WebSockets.

Serve it with ``manage.py runserver`` when daphne is installed (it is then first in INSTALLED_APPS), or
from the repository root with ``uvicorn example_project.asgi:application`` (the command of
docs/deployment.rst) or ``daphne example_project.asgi:application``.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

from channels.routing import ProtocolTypeRouter
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

# Set Django up before importing anything that touches models.
django_asgi_app = get_asgi_application()
if settings.DEBUG:
    # runserver serves the static files (the client's live-notify.js among them) itself;
    # uvicorn and plain daphne do not, so do it here while DEBUG is on, as runserver does.
    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from django_live_notify.routing import tune_garbage_collector, websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...))) around ws/notifications/.
        "websocket": websocket_application(),
    }
)
# Fewer, cheaper garbage collections in a process that holds many sockets (docs/deployment.rst).
tune_garbage_collector()
