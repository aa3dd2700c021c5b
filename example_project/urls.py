from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("", include("example_project.services.urls")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The history page and the JSON API of django-live-notify, namespace "live_notify".
    path("notifications/", include("django_live_notify.urls")),
    path("admin/", admin.site.urls),
]
