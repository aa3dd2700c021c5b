"""The Prometheus scrape endpoint, for monitoring rather than users: hidden (404) from anyone not allowed."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .. import metrics


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Serve the Prometheus metrics to an allowed address or a bearer of ``METRICS_TOKEN``; 404 to anyone else.

    404, not 403: the view does not tell that it exists. 404 too when metrics are off or
    prometheus_client is not installed.
    """
    if not metrics.enabled() or not metrics.request_allowed(request):
        raise Http404
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
