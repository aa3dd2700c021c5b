"""A URLconf that forgot include("django_live_notify.urls") (system check E007)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
