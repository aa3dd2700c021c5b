from django.urls import path

from . import views

app_name = "services"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("requests/new/", views.request_create, name="request_create"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/accept/", views.request_accept, name="request_accept"),
    path("requests/<int:pk>/chat/", views.chat_start, name="chat_start"),
    path("orders/<int:pk>/status/", views.order_update_status, name="order_update_status"),
    path("chats/<int:pk>/", views.chat_detail, name="chat"),
    path("broadcast/", views.system_broadcast, name="broadcast"),
]
