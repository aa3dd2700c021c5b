"""The Prometheus metrics: real traffic on the real ASGI stack, read back through the /metrics view and parsed
with prometheus_client's own parser."""

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from django_live_notify import abroadcast, anotify, metrics, publish, session_check
from django_live_notify.hub import get_hub
from django_live_notify.testing import receive_frame
from tests.conftest import make_user, open_socket
from tests.test_outbox import LIMITS, Transport, slow_socket

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/notifications/metrics/"
DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json"


def parse(text):
    """Return {(sample name, frozenset of labels): value} of an exposition text."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(**extra):
    response = Client().get(URL, **extra)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


ascrape = sync_to_async(scrape)


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


async def users(*names):
    return [await sync_to_async(make_user)(name) for name in names]


async def test_the_socket_gauge_counts_the_sockets_open_in_the_process():
    before = value(await ascrape(), "live_notify_sockets")
    ana, bob = await users("ana", "bob")
    sockets = [await open_socket(ana), await open_socket(ana), await open_socket(bob)]
    await get_hub()
    assert value(await ascrape(), "live_notify_sockets") == before + 3
    await sockets[0].disconnect()
    await asyncio.sleep(0.05)
    assert value(await ascrape(), "live_notify_sockets") == before + 2
    for socket in sockets[1:]:
        await socket.disconnect()
    await asyncio.sleep(0.05)
    assert value(await ascrape(), "live_notify_sockets") == before


async def test_frames_in_are_counted_by_their_type_and_frames_out_by_the_type_written():
    (ana,) = await users("ana")
    socket = await open_socket(ana)
    before = await ascrape()
    for _ in range(3):
        await socket.send_to(text_data='{"type": "heartbeat"}')
        assert await receive_frame(socket) == {"type": "heartbeat_ack"}
    await socket.send_to(text_data='{"type": "get_unread_count"}')
    assert (await receive_frame(socket))["type"] == "unread_count"
    await socket.send_to(text_data='{"type": "no such type, and never a label"}')
    assert (await receive_frame(socket))["type"] == "error"
    after = await ascrape()

    def delta(name, frame_type):
        return value(after, name, type=frame_type) - value(before, name, type=frame_type)

    assert delta("live_notify_frames_in_total", "heartbeat") == 3
    assert delta("live_notify_frames_in_total", "get_unread_count") == 1
    assert delta("live_notify_frames_in_total", "unknown") == 1
    assert delta("live_notify_frames_out_total", "heartbeat_ack") == 3
    assert delta("live_notify_frames_out_total", "unread_count") == 1
    assert delta("live_notify_frames_out_total", "error") == 1
    assert not any("never a label" in str(labels) for _, labels in after)
    await socket.disconnect()


async def test_notify_and_broadcast_count_calls_and_rows_and_the_latency_of_what_reached_sockets():
    ana, bob, cleo = await users("ana", "bob", "cleo")
    ana_socket, bob_socket = await open_socket(ana), await open_socket(bob)
    before = await ascrape()
    await anotify([ana, bob], title="To two")
    for socket in (ana_socket, bob_socket):
        assert (await receive_frame(socket))["type"] == "notification"
    await anotify(cleo, title="To one without a socket here")
    count = await abroadcast(title="To everyone")
    assert count == 3
    for socket in (ana_socket, bob_socket):
        assert (await receive_frame(socket))["type"] == "unread_count"
        assert (await receive_frame(socket))["type"] == "notification"
    after = await ascrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("live_notify_send_calls_total", function="notify") == 2
    assert delta("live_notify_send_rows_total", function="notify") == 3
    assert delta("live_notify_send_calls_total", function="broadcast") == 1
    assert delta("live_notify_send_rows_total", function="broadcast") == 3
    # One observation per message that reached a socket here: cleo's has none.
    assert delta("live_notify_delivery_latency_seconds_count", kind="notification") == 1
    assert delta("live_notify_delivery_latency_seconds_count", kind="broadcast") == 1
    latency = delta("live_notify_delivery_latency_seconds_sum", kind="notification")
    assert 0 <= latency < 5
    assert delta("live_notify_delivery_latency_seconds_bucket", kind="notification", le="+Inf") == 1
    await ana_socket.disconnect()
    await bob_socket.disconnect()


@override_settings(LIVE_NOTIFY={**LIMITS, "WRITE_TIMEOUT": 30})
async def test_a_socket_aborted_for_its_backlog_is_counted_as_dropped():
    (ana,) = await users("ana")
    transport = Transport()
    server, socket = await slow_socket(ana, transport)
    before = await ascrape()
    server.reading.clear()
    for _ in range(LIMITS["MAX_PENDING_FRAMES"] + 2):
        await socket.send_to(text_data='{"type": "heartbeat"}')
    await asyncio.wait_for(transport.aborted.wait(), 2)
    after = await ascrape()
    dropped = "live_notify_sockets_dropped_total"
    assert value(after, dropped, reason="backlog") - value(before, dropped, reason="backlog") == 1
    assert value(after, dropped, reason="write_timeout") == value(before, dropped, reason="write_timeout")
    await socket.send_input({"type": "websocket.disconnect", "code": 1006})


@override_settings(LIVE_NOTIFY=LIMITS)
async def test_a_socket_aborted_for_a_write_that_waited_too_long_is_counted_as_dropped():
    (ana,) = await users("ana")
    transport = Transport()
    server, socket = await slow_socket(ana, transport)
    before = await ascrape()
    server.reading.clear()
    await socket.send_to(text_data='{"type": "heartbeat"}')
    await asyncio.wait_for(transport.aborted.wait(), 3)
    after = await ascrape()
    dropped = "live_notify_sockets_dropped_total"
    assert value(after, dropped, reason="write_timeout") - value(before, dropped, reason="write_timeout") == 1
    await socket.send_input({"type": "websocket.disconnect", "code": 1006})


async def test_sweeps_and_session_rechecks_are_timed():
    (ana,) = await users("ana")
    socket = await open_socket(ana)
    hub = await get_hub()
    before = await ascrape()
    await hub.sweep()
    await session_check.recheck(hub)
    await hub.recover()
    after = await ascrape()
    for sweep in ("idle", "sessions", "recover"):
        name = "live_notify_sweep_duration_seconds_count"
        assert value(after, name, sweep=sweep) - value(before, name, sweep=sweep) == 1, sweep
    await socket.disconnect()


def test_a_failing_channel_layer_counts_an_error_and_its_recovery():
    before = scrape()
    dead = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:9"]}}
    }
    with override_settings(CHANNEL_LAYERS=dead):
        assert not publish.publish(publish.frames_message([("1", ['{"type":"heartbeat_ack"}'])]))
        assert not publish.publish(publish.frames_message([("1", ['{"type":"heartbeat_ack"}'])]))
    assert publish.publish(publish.frames_message([("1", ['{"type":"heartbeat_ack"}'])]))
    after = scrape()
    errors, recoveries = "live_notify_layer_errors_total", "live_notify_layer_recoveries_total"
    assert value(after, errors, operation="publish") - value(before, errors, operation="publish") == 2
    assert value(after, recoveries, operation="publish") - value(before, recoveries, operation="publish") == 1


def test_record_channel_send_counts_by_channel_and_outcome():
    before = scrape()
    metrics.record_channel_send("push", "sent")
    metrics.record_channel_send("push", "sent")
    metrics.record_channel_send("email", "failed")
    after = scrape()
    name = "live_notify_channel_sends_total"
    assert (
        value(after, name, channel="push", outcome="sent") - value(before, name, channel="push", outcome="sent") == 2
    )
    assert (
        value(after, name, channel="email", outcome="failed") - value(before, name, channel="email", outcome="failed")
        == 1
    )
    assert value(after, name, channel="email", outcome="sent") == value(before, name, channel="email", outcome="sent")


def test_an_address_not_allowed_gets_404_as_if_the_view_did_not_exist():
    refused = Client().get(URL, REMOTE_ADDR="10.1.2.3")
    missing = Client().get("/notifications/no-such-page/", REMOTE_ADDR="10.1.2.3")
    assert refused.status_code == missing.status_code == 404


def test_the_default_allows_ipv4_and_ipv6_loopback():
    assert "live_notify_sockets" in {name for name, _ in scrape(REMOTE_ADDR="127.0.0.1")}
    assert "live_notify_sockets" in {name for name, _ in scrape(REMOTE_ADDR="::1")}


@override_settings(LIVE_NOTIFY={"METRICS_ALLOWED_IPS": ["10.0.0.0/8", "2001:db8::/32"]})
def test_allowed_networks_are_cidrs_and_the_defaults_no_longer_apply():
    assert scrape(REMOTE_ADDR="10.200.3.4")
    assert scrape(REMOTE_ADDR="2001:db8::7")
    assert Client().get(URL, REMOTE_ADDR="127.0.0.1").status_code == 404
    assert Client().get(URL, REMOTE_ADDR="11.0.0.1").status_code == 404


@override_settings(LIVE_NOTIFY={"METRICS_ALLOWED_IPS": [], "METRICS_TOKEN": "s3cret-token"})
def test_a_bearer_token_is_accepted_from_anywhere_and_a_wrong_one_gets_404():
    assert scrape(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer s3cret-token")
    for header in ("Bearer s3cret-tokeN", "Bearer s3cret", "Basic s3cret-token", "s3cret-token", "Bearer "):
        assert Client().get(URL, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=header).status_code == 404, header
    assert Client().get(URL, REMOTE_ADDR="127.0.0.1").status_code == 404


@override_settings(LIVE_NOTIFY={"METRICS_ALLOWED_IPS": ["127.0.0.1", "not-an-address"]})
def test_a_bad_allowed_address_is_a_clear_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="'not-an-address', which is no IP address or network"):
        Client().get(URL)


def test_only_get_and_head_are_served():
    assert Client().post(URL).status_code == 405


async def test_with_metrics_off_nothing_is_recorded_and_the_view_is_404():
    ana, bob = await users("ana", "bob")
    before = parse(generate_latest(REGISTRY).decode())
    with override_settings(LIVE_NOTIFY={"METRICS": False}):
        assert not metrics.enabled()
        socket = await open_socket(ana)
        await socket.send_to(text_data='{"type": "heartbeat"}')
        assert await receive_frame(socket) == {"type": "heartbeat_ack"}
        await anotify([ana, bob], title="Unmeasured")
        assert (await receive_frame(socket))["type"] == "notification"
        hub = await get_hub()
        await hub.sweep()
        metrics.record_channel_send("push", "sent")
        assert (await sync_to_async(Client().get)(URL)).status_code == 404
        after = parse(generate_latest(REGISTRY).decode())
        await socket.disconnect()
    changed = {key for key in after if key[0].startswith("live_notify_") and after[key] != before.get(key, 0.0)}
    assert changed == set()
    assert metrics.enabled()


def defined_sample_names():
    """Return the sample names of every metric the metrics module defines (a counter's ``_total``, ...)."""
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_count", "_sum"]}
    names = set()
    for candidate in vars(metrics).values():
        if isinstance(candidate, MetricWrapperBase):
            [family] = candidate.describe()
            names.update(family.name + suffix for suffix in suffixes[family.type])
    return names


def test_the_grafana_dashboard_is_valid_json_whose_queries_name_only_existing_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())]
    assert len(exprs) >= 7
    named = set()
    for expr in exprs:
        named.update(re.findall(r"\blive_notify_[a-z_]+", expr))
    exposed = defined_sample_names()
    assert named, "no live_notify metric in the dashboard"
    assert named <= exposed, named - exposed
    for wanted in (
        "live_notify_sockets",
        "live_notify_frames_out_total",
        "live_notify_send_calls_total",
        "live_notify_delivery_latency_seconds_bucket",
        "live_notify_sockets_dropped_total",
        "live_notify_layer_errors_total",
        "live_notify_sweep_duration_seconds_bucket",
    ):
        assert wanted in named, wanted
    assert all("histogram_quantile" in expr for expr in exprs if "_bucket" in expr)


WITHOUT_PROMETHEUS = """
import json, sys
sys.modules["prometheus_client"] = None  # what an ImportError looks like: the package is not installed
import django
django.setup()
from django.core import checks
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from django_live_notify import metrics
setup_test_environment()
result = {"enabled": metrics.enabled()}
result["unasked"] = [m.id for m in checks.run_checks() if m.id.startswith("django_live_notify.W006")]
with override_settings(LIVE_NOTIFY={"METRICS_TOKEN": "t0ken"}):
    result["routed"] = [m.id for m in checks.run_checks() if m.id.startswith("django_live_notify.W006")]
with override_settings(ROOT_URLCONF="tests.urls_without_live_notify", LIVE_NOTIFY={"METRICS": True}):
    result["unrouted"] = [m.id for m in checks.run_checks() if m.id == "django_live_notify.W006"]
with override_settings(LIVE_NOTIFY={"METRICS": False}):
    result["off"] = [m.id for m in checks.run_checks() if m.id == "django_live_notify.W006"]
result["status"] = Client().get("/notifications/metrics/").status_code
metrics.frame_in("heartbeat"); metrics.frame_out('{"type":"x"}'); metrics.socket_opened()
metrics.record_channel_send("push", "sent")
result["sent"] = metrics.sent("notify", 3)
print(json.dumps(result))
"""


def test_without_prometheus_client_every_call_is_a_no_op_the_view_is_404_and_routing_it_is_w006():
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(root)}
    env.pop("LIVE_NOTIFY_TEST_DATABASE_URL", None)
    output = subprocess.run(
        [sys.executable, "-c", WITHOUT_PROMETHEUS], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert output.returncode == 0, output.stderr
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert result == {
        "enabled": False,
        "unasked": [],
        "routed": ["django_live_notify.W006"],
        "unrouted": [],
        "off": [],
        "status": 404,
        "sent": 3,
    }


def test_with_prometheus_client_installed_routing_the_view_is_no_warning():
    from django_live_notify.checks import check_metrics_package

    assert check_metrics_package() == []


@pytest.mark.redis
async def test_a_redis_restart_counts_the_hubs_receive_errors_and_its_recovery():
    from tests.servers import RedisServer, redis_server_binary, skip_or_fail

    binary = redis_server_binary()
    if binary is None:
        skip_or_fail("no redis-server binary: this test restarts its own Redis")
    server = RedisServer(binary)
    server.start()
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [server.url]}}}
    errors, recoveries = "live_notify_layer_errors_total", "live_notify_layer_recoveries_total"
    try:
        (ana,) = await users("ana")
        with override_settings(CHANNEL_LAYERS=layers):
            socket = await open_socket(ana)
            hub = await get_hub()
            before = await ascrape()
            server.kill()
            await asyncio.sleep(0.5)
            await sync_to_async(server.start)()
            for _ in range(100):
                if not hub.rejoin and (hub.rejoining is None or hub.rejoining.done()):
                    break
                await asyncio.sleep(0.05)
            await anotify(ana, title="after the restart")
            assert (await receive_frame(socket, timeout=20))["type"] == "notification"
            after = await ascrape()
            await socket.disconnect()
    finally:
        server.stop()
    assert value(after, errors, operation="receive") - value(before, errors, operation="receive") >= 1
    assert value(after, recoveries, operation="receive") - value(before, recoveries, operation="receive") == 1


@pytest.mark.parametrize(
    "live_notify, problem",
    [
        ({"METRICS_ALLOWED_IPS": "127.0.0.1"}, "METRICS_ALLOWED_IPS must be a list"),
        ({"METRICS_ALLOWED_IPS": ["10.0.0.0/33"]}, "holds '10.0.0.0/33', which is no IP address or network"),
        ({"METRICS_TOKEN": ""}, "METRICS_TOKEN must be a non-empty string or None"),
        ({"METRICS_TOKEN": 12345}, "METRICS_TOKEN must be a non-empty string or None, not 12345"),
    ],
)
def test_a_malformed_guard_is_e009(live_notify, problem):
    from django_live_notify.checks import check_metrics_settings

    with override_settings(LIVE_NOTIFY=live_notify):
        [error] = check_metrics_settings()
    assert error.id == "django_live_notify.E010"
    assert problem in error.msg


def test_the_default_and_a_good_guard_pass_e009():
    from django_live_notify.checks import check_metrics_settings

    assert check_metrics_settings() == []
    with override_settings(LIVE_NOTIFY={"METRICS_ALLOWED_IPS": ("10.0.0.0/8", "::1"), "METRICS_TOKEN": "t0ken"}):
        assert check_metrics_settings() == []
