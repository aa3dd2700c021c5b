from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template import RequestContext, Template
from django.urls import include, path

# A host page that places the bell apart from the client, as docs/templatetags.rst shows (the browser tests).
BADGE_PAGE = Template(
    '{% load live_notify %}<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Badge</title></head>'
    "<body><nav>{% live_notify_badge %}</nav><main><h1>Badge</h1></main>{% live_notifications badge=False %}"
    "</body></html>"
)


def badge_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BADGE_PAGE.render(RequestContext(request)))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("notifications/", include("django_live_notify.urls")),
    path("badge-page/", badge_page),
]
