"""tests.asgi with the static files served (the client's live-notify.js), as runserver serves them."""

from channels.routing import ProtocolTypeRouter
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from tests.asgi import application as plain

application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(plain.application_mapping["http"]),
        "websocket": plain.application_mapping["websocket"],
    }
)
