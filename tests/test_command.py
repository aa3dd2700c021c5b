import pytest
from django.core.management import CommandError, ManagementUtility, call_command
from django.test import override_settings

from django_live_notify.models import Notification
from tests.conftest import read_broadcasts


def test_send_to_usernames(user_factory, capsys):
    user_factory("ana"), user_factory("bob"), user_factory("cid")
    call_command("live_notify_send", "ana", "bob", title="Hi", message="there", url="/x/")
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == ["ana", "bob"]
    assert "Notified 2 user(s)." in capsys.readouterr().out


def test_send_to_all(user_factory):
    user_factory("ana"), user_factory("bob"), user_factory("off", is_active=False)
    call_command("live_notify_send", "--all", title="Maintenance", verbosity=0)
    assert read_broadcasts() == Notification.objects.count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "--title", "x"], "No such user(s): nobody"),
        (["--title", "x"], "either usernames or --all"),
        (["ana", "--all", "--title", "x"], "either usernames or --all"),
        (["ana", "--title", " "], "title must not be empty"),
        (["ana", "--title", "x", "--url", "javascript:alert(1)"], "url must be relative or http(s)"),
    ],
)
def test_bad_arguments_change_nothing(user_factory, args, message):
    user_factory("ana")
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("live_notify_send", *args)
    assert not Notification.objects.exists()


def test_says_when_its_live_send_cannot_reach_the_servers(user_factory, capsys):
    user_factory("ana")
    call_command("live_notify_send", "ana", title="Hi")
    captured = capsys.readouterr()
    assert "Notified 1 user(s)." in captured.out
    assert "in-memory, so this command's live send cannot reach your server processes" in captured.err
    assert "recovery sweep 15 to 30 s from now" in captured.err  # HEARTBEAT_INTERVAL 30


@pytest.mark.redis
def test_says_nothing_more_on_redis(user_factory, capsys, redis_url):
    user_factory("ana")
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_url]}}}
    with override_settings(CHANNEL_LAYERS=layers):
        call_command("live_notify_send", "ana", title="Hi")
    captured = capsys.readouterr()
    assert "Notified 1 user(s)." in captured.out
    assert captured.err == ""


@pytest.mark.django_db(transaction=True)  # The command closes the database connections when it ends.
def test_a_refused_url_exits_non_zero_with_a_clean_error(user_factory, capsys):
    user_factory("ana")
    # --skip-checks: other tests register checks (daphne's) that this test settings module fails.
    argv = ["manage.py", "live_notify_send", "ana", "--skip-checks", "--title", "x", "--url", "javascript:alert(1)"]
    utility = ManagementUtility(argv)
    with pytest.raises(SystemExit) as exit_info:
        utility.execute()
    assert exit_info.value.code == 1
    assert "CommandError: url must be relative or http(s), not 'javascript:alert(1)'" in capsys.readouterr().err
    assert not Notification.objects.exists()
