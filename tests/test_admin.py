from django.contrib.auth import get_user_model

from django_live_notify import notify
from django_live_notify.models import Notification


def test_admin_lists_filters_searches_and_marks_read(client, user_factory):
    admin = get_user_model().objects.create_superuser("root", password="pw")
    ana = user_factory("ana")
    unread = notify(ana, title="Sink leaks", notification_type="service_request")
    read = notify(ana, title="Hello there")
    Notification.objects.filter(pk=read.pk).mark_all_read()
    client.force_login(admin)
    url = "/admin/django_live_notify/notification/"
    assert client.get(url).status_code == 200
    unread_page = client.get(url, {"read": "no"}).content.decode()
    assert "Sink leaks" in unread_page and "Hello there" not in unread_page
    assert "Hello there" not in client.get(url, {"q": "sink"}).content.decode()
    assert "Sink leaks" in client.get(url, {"notification_type": "service_request"}).content.decode()
    response = client.post(url, {"action": "mark_read", "_selected_action": [unread.pk]}, follow=True)
    assert response.status_code == 200
    assert not Notification.objects.unread().exists()
