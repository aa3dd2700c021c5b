"""Every Python snippet of the docs runs, or says why not.

The snippets are read from the .rst sources: each ``.. code-block:: python`` (or ``pycon``), and
each ``::`` literal block that parses as Python code. Each one runs in one of these ways:

* "Try it in python manage.py shell" snippets run as printed, twice (pasted twice into a shell);
* settings fragments (only ``UPPER_CASE = ...`` lines) are checked: apps and backends import, layers
  and template engines build, and ``LIVE_NOTIFY`` passes the app's own system checks;
* ``pycon`` blocks run as doctests, and the pytest modules of testing.rst run as tests;
* every other snippet has a check in ``CHECKS`` below: it gives the snippet the names it assumes
  (a user, a service request of the example project...) and tests what the page says it does.

A snippet that cannot run (it needs a browser, say) is preceded by an rst comment with the reason::

    .. not-tested: it drives a real browser

A new Python snippet with neither a way to run nor that comment fails
``test_every_python_snippet_runs_or_says_why_not``. Tracebacks point at the .rst line.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import functools
import importlib.util
import inspect
import io
import re
import sys
import textwrap
import types
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.checks import ERROR
from django.db import connections, transaction
from django.template import engines
from django.test import Client, RequestFactory, TestCase, override_settings
from django.test.utils import isolate_apps
from django.urls import include, path, resolve, reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy

import django_live_notify
from django_live_notify import (
    actions,
    anotify,
    broadcast,
    broadcast_system_notification,
    create_and_send_notification,
    delivery,
    notify,
    send_notification_to_user,
)
from django_live_notify.backends import get_backends
from django_live_notify.checks import check_setup, check_sqlite_transactions
from django_live_notify.conf import live_settings
from django_live_notify.delivery import DeliveryConsumer
from django_live_notify.models import Delivery, Notification
from django_live_notify.routing import websocket_application
from django_live_notify.rules import changed, register, registry, unregister
from django_live_notify.signals import notification_created
from django_live_notify.testing import capture_notifications, communicator, receive_frame
from example_project.services.models import Chat, Message, Order, ServiceRequest
from tests.conftest import make_user
from tests.testapp.models import Note, Project, Ticket

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TRY_IT = "Try it in python manage.py shell"
TEST_MODULE = re.compile(r"test_\w+\.py")
# Languages Sphinx highlights as Python; a code-block without a language is Python too ("default").
PYTHON = {"python", "python3", "py", "py3", "pycon", "default"}
DIRECTIVE = re.compile(r" *\.\. (?:code-block|code|sourcecode)::(?: +(?P<language>\S+))? *")
OPTION = re.compile(r" +:(?P<name>[\w-]+):(?P<value>.*)")
NOT_TESTED = re.compile(r" *\.\. not-tested:(?P<reason>.*)")

# The URLs the checks run under: the test project's, and the example project's pages (the
# get_absolute_url() of its service requests and chats).
urlpatterns = [
    path("", include("tests.urls")),
    path("services/", include("example_project.services.urls")),
]


# Reading the snippets -------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    page: str
    line: int  # of the directive (or of the paragraph ending in "::"), from 1
    language: str  # "literal" for a "::" block
    caption: str
    code: str  # dedented
    first_line: int  # of the code in the page, from 1
    not_tested: str | None  # the reason of a ".. not-tested:" comment just before it

    def __str__(self) -> str:
        return f"{self.page}.rst:{self.line}"

    @property
    def filename(self) -> str:
        return f"docs/{self.page}.rst"

    @property
    def is_python(self) -> bool:
        if self.language == "literal":
            return looks_like_python(self.code)
        return self.language in PYTHON

    def compile(self, flags: int = 0) -> types.CodeType:
        """Compile the code with the line numbers of the page, so tracebacks show the .rst lines."""
        tree = ast.parse(self.code, self.filename)
        ast.increment_lineno(tree, self.first_line - 1)
        return compile(tree, self.filename, "exec", flags=flags)

    def run(self, namespace: dict[str, Any] | None = None, /, **given: Any) -> dict[str, Any]:
        """Run the code with ``namespace`` and ``given`` as globals; return the globals after it."""
        namespace = {"__name__": "__main__", **(namespace or {}), **given}
        exec(self.compile(), namespace)
        return namespace

    async def arun(self, namespace: dict[str, Any] | None = None, /, **given: Any) -> dict[str, Any]:
        """Run code that may ``await`` at the top level, as in an asyncio REPL."""
        namespace = {"__name__": "__main__", **(namespace or {}), **given}
        result = eval(self.compile(ast.PyCF_ALLOW_TOP_LEVEL_AWAIT), namespace)
        if inspect.iscoroutine(result):
            await result
        return namespace


def looks_like_python(code: str) -> bool:
    """Tell whether a "::" block is Python code: it parses, and is more than one literal (JSON)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    literals = (ast.Constant, ast.Dict, ast.List, ast.Set, ast.Tuple)
    return bool(tree.body) and not (
        len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, literals)
    )


def indentation(line: str) -> int:
    return len(line) - len(line.lstrip())


def read_blocks(page: str) -> list[Snippet]:
    """Return the code blocks and the "::" literal blocks of ``docs/<page>.rst``, in page order."""
    lines = (DOCS / f"{page}.rst").read_text(encoding="utf-8").splitlines()
    blocks = []
    for number, text in enumerate(lines):
        directive = DIRECTIVE.fullmatch(text)
        literal = not directive and text.rstrip().endswith("::") and not text.lstrip().startswith("..")
        if not (directive or literal):
            continue
        indent = indentation(text)
        index = number + 1
        options = {}
        while directive and index < len(lines) and (option := OPTION.fullmatch(lines[index])):
            options[option["name"]] = option["value"].strip()
            index += 1
        body: list[str] = []
        first = 0
        while index < len(lines) and (not lines[index].strip() or indentation(lines[index]) > indent):
            if lines[index].strip() and not body:
                first = index + 1
            if first:
                body.append(lines[index])
            index += 1
        previous = next((line for line in reversed(lines[:number]) if line.strip()), "")
        marker = NOT_TESTED.fullmatch(previous)
        blocks.append(
            Snippet(
                page=page,
                line=number + 1,
                language=(directive["language"] or "default") if directive else "literal",
                caption=options.get("caption", ""),
                code=textwrap.dedent("\n".join(body).rstrip() + "\n"),
                first_line=first,
                not_tested=marker["reason"].strip() if marker else None,
            )
        )
    return blocks


PAGES = sorted(path.stem for path in DOCS.glob("*.rst"))
BLOCKS = [block for page in PAGES for block in read_blocks(page)]
SNIPPETS = [block for block in BLOCKS if block.is_python]


def snippet_with(page: str, needle: str, language: str = "python") -> Snippet:
    """Return the one block of ``page`` in ``language`` whose code holds ``needle``."""
    [found] = [block for block in BLOCKS if block.page == page and block.language == language and needle in block.code]
    return found


# How each snippet runs ------------------------------------------------------------------

CHECKS: dict[tuple[str, str], Callable[..., Any]] = {}


def check(page: str, needle: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the check of the snippet of ``page`` that holds ``needle``.

    It is called as ``check(snippet, world)``, and awaited if it is a coroutine function.
    """

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        CHECKS[(page, needle)] = function
        return function

    return decorator


def is_settings(snippet: Snippet) -> bool:
    """Tell whether the snippet only assigns UPPER_CASE names: a fragment of settings.py."""
    try:
        statements = ast.parse(snippet.code).body
    except SyntaxError:
        return False  # A fragment, such as one entry of a dict: it needs a check of its own.
    return bool(statements) and all(
        isinstance(statement, ast.Assign)
        and all(isinstance(target, ast.Name) and target.id.isupper() for target in statement.targets)
        for statement in statements
    )


def runner_of(snippet: Snippet) -> Callable[..., Any] | None:
    """Return the function that runs ``snippet``, or None when it has none."""
    if snippet.not_tested is not None:
        return None
    if snippet.caption == TRY_IT:
        return run_twice
    if TEST_MODULE.fullmatch(snippet.caption):
        statements = ast.parse(snippet.code).body
        if any(isinstance(node, ast.AsyncFunctionDef) and node.name.startswith("test_") for node in statements):
            return run_async_test_module
        return run_test_module
    if snippet.language == "pycon":
        return run_doctest
    if is_settings(snippet):
        return check_settings
    found = [CHECKS[page, needle] for page, needle in CHECKS if page == snippet.page and needle in snippet.code]
    return found[0] if len(found) == 1 else None


def is_async(snippet: Snippet) -> bool:
    """Tell whether the snippet needs an event loop and committed transactions (a socket)."""
    return inspect.iscoroutinefunction(runner_of(snippet))


def run_twice(snippet: Snippet, world: Any) -> None:
    """Run a "Try it" snippet as printed, twice: pasted twice into the same shell, it still works."""
    for _run in range(2):
        snippet.run()


def collect_tests(snippet: Snippet, world: Any) -> list[Callable[[], Any]]:
    """Return a call of each test function of a pytest module of the docs, with the fixtures it names."""
    namespace = snippet.run(__name__=snippet.caption.removesuffix(".py"))
    tests = [value for name, value in namespace.items() if name.startswith("test_") and callable(value)]
    assert tests, f"{snippet} holds no test"
    calls = []
    for test in tests:
        fixtures = {name: world.request.getfixturevalue(name) for name in inspect.signature(test).parameters}
        calls.append(functools.partial(test, **fixtures))
    return calls


def run_test_module(snippet: Snippet, world: Any) -> None:
    for call in collect_tests(snippet, world):
        call()


async def run_async_test_module(snippet: Snippet, world: Any) -> None:
    for call in collect_tests(snippet, world):
        await call()


def run_doctest(snippet: Snippet, world: Any) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(snippet.code, {}, str(snippet), snippet.filename, snippet.first_line - 1)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    runner.run(test, out=report.write)
    assert not runner.failures, report.getvalue()


# Settings fragments


def check_installed_apps(value: list[str]) -> None:
    for entry in value:
        AppConfig.create(entry)  # Imports it, as Django would.
    assert {"channels", "django_live_notify"} <= set(value)
    if "daphne" in value:
        assert value[0] == "daphne", "daphne must come first, for its runserver"


def check_templates(value: list[dict[str, Any]]) -> None:
    with override_settings(TEMPLATES=value):
        processors = [processor for engine in engines.all() for processor in engine.engine.template_context_processors]
    assert import_string("django.template.context_processors.request") in processors


def check_channel_layers(value: dict[str, Any]) -> None:
    for config in value.values():
        import_string(config["BACKEND"])(**config.get("CONFIG", {}))
    with override_settings(CHANNEL_LAYERS=value):
        assert not [message for message in check_setup() if message.level >= ERROR]


def check_live_notify(value: dict[str, Any]) -> None:
    with override_settings(LIVE_NOTIFY=value):
        assert not [message for message in check_setup() if message.level >= ERROR]
        get_backends()
        assert {key: getattr(live_settings, key) for key in value} == value


def check_databases(value: dict[str, Any]) -> None:
    """Each backend exists, MySQL talks utf8mb4, and SQLite passes check W004."""
    for database in value.values():
        assert importlib.util.find_spec(database["ENGINE"]) is not None, database["ENGINE"]
        if database["ENGINE"] == "django.db.backends.mysql":
            assert database["OPTIONS"]["charset"] == "utf8mb4"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Overriding setting DATABASES")
        with override_settings(DATABASES=value):
            assert check_sqlite_transactions() == []


def check_asgi_application(value: str) -> None:
    assert re.fullmatch(r"\w+\.asgi\.application", value)


def check_login_url(value: str) -> None:
    assert reverse(value) == "/admin/login/"


def check_email_backend(value: str) -> None:
    import_string(value)


SETTINGS = {
    "EMAIL_BACKEND": check_email_backend,
    "DEFAULT_FROM_EMAIL": lambda value: re.fullmatch(r"[^@\s]+@[^@\s]+", value),
    "INSTALLED_APPS": check_installed_apps,
    "TEMPLATES": check_templates,
    "CHANNEL_LAYERS": check_channel_layers,
    "LIVE_NOTIFY": check_live_notify,
    "ASGI_APPLICATION": check_asgi_application,
    "DATABASES": check_databases,
    "LOGIN_URL": check_login_url,
}


def check_settings(snippet: Snippet, world: Any) -> None:
    """Check each setting of a settings.py fragment; a setting nobody knows how to check fails."""
    for name, value in snippet.run().items():
        if name.isupper():
            assert name in SETTINGS, f"{snippet} sets {name}: add a check of it to SETTINGS in tests/test_docs.py"
            SETTINGS[name](value)


# Helpers of the checks


def module_from(namespace: dict[str, Any], name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(namespace)
    return module


def fake_module(world: Any, name: str, **attributes: Any) -> types.ModuleType:
    """Put a module ``name`` (and its packages) with ``attributes`` in sys.modules for this test."""
    module = module_from(attributes, name)
    parts = name.split(".")
    for end in range(1, len(parts)):
        world.monkeypatch.setitem(sys.modules, ".".join(parts[:end]), types.ModuleType(".".join(parts[:end])))
    world.monkeypatch.setitem(sys.modules, name, module)
    return module


def run_in_example_app(snippet: Snippet, **given: Any) -> dict[str, Any]:
    """Run a snippet as a module of the example project's app, where ``from .models import ...`` works."""
    return snippet.run(__name__="example_project.services.snippet", __package__="example_project.services", **given)


async def serves_notifications(application: Any, user: Any) -> None:
    """Open a socket on ``application`` as ``user`` and see a notification arrive through it."""
    ws = await communicator(user, application=application)
    await anotify(user, title="Through your asgi.py")
    assert (await receive_frame(ws))["notification"]["title"] == "Through your asgi.py"
    await ws.disconnect()


class EchoConsumer(AsyncJsonWebsocketConsumer):
    """A WebSocket route of the project's own, beside the notification socket."""

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json(content)


def quickstart_project(world: Any) -> tuple[dict[str, Any], types.ModuleType]:
    """Run the quickstart's mysite/views.py and mysite/urls.py; return the views and the URLconf."""
    views = snippet_with("quickstart", "def hello(request)").run(__name__="mysite.views")
    package = fake_module(world, "mysite")
    package.__path__ = []
    package.views = fake_module(world, "mysite.views", **views)
    urls = snippet_with("quickstart", 'name="hello"').run(__name__="mysite.urls", __package__="mysite")
    return views, module_from(urls, "mysite.urls")


def in_a_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a function that uses the database from a thread of its own, for async code that cannot."""

    def call() -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


class ClientSession:
    """What the HTTP snippet needs of requests.Session, served by Django's test client.

    The snippet posts from async code, where the database may not be used: each post runs in a thread.
    """

    def __init__(self, user: Any) -> None:
        self.client = Client(enforce_csrf_checks=True)
        self.client.force_login(user)
        self.client.get(reverse("live_notify:list"))  # Sets the CSRF cookie, as a page of the site would.
        self.csrf_token = self.client.cookies["csrftoken"].value

    def post(self, url: str, headers: dict[str, str] | None = None) -> Any:
        return in_a_thread(self.client.post, url, headers=headers)


def fake_websockets(received: list[Any]) -> SimpleNamespace:
    """Return what the HTTP snippet needs of the websockets library, on the test project's ASGI stack.

    The socket records the server's answer to each frame sent in ``received``.
    """

    @contextlib.asynccontextmanager
    async def connect(url: str, subprotocols: list[str]) -> Any:
        ws = WebsocketCommunicator(websocket_application(), urlsplit(url).path, subprotocols=subprotocols)
        connected, subprotocol = await ws.connect()
        assert (connected, subprotocol) == (True, "live-notify.v1")

        async def send(text: str) -> None:
            await ws.send_to(text_data=text)
            received.append(await ws.receive_json_from())

        try:
            yield SimpleNamespace(send=send)
        finally:
            await ws.disconnect()

    return SimpleNamespace(connect=connect)


# The checks, page by page ---------------------------------------------------------------


@check("index", "notify(provider")
def check_index(snippet, world):
    with capture_notifications() as captured:
        snippet.run(provider=world.bruno)
    [row] = captured.assert_notified(world.bruno, title="New service request", count=1)
    assert (row.message, row.url) == ("Ana asked for: fix the sink", "/requests/7/")


@check("installation", "from channels.auth import AuthMiddlewareStack")
async def check_asgi_by_hand(snippet, world):
    await serves_notifications(snippet.run()["application"], world.bruno)


@check("installation", '"websocket": websocket_application()}')
async def check_asgi_in_one_line(snippet, world):
    await serves_notifications(snippet.run()["application"], world.bruno)


@check("installation", "websocket_application(chat_urlpatterns)")
async def check_asgi_with_routes_of_your_own(snippet, world):
    fake_module(world, "chat.routing", websocket_urlpatterns=[path("ws/chat/", EchoConsumer.as_asgi())])
    asgi = snippet_with("installation", '"websocket": websocket_application()}').run()
    application = snippet.run(asgi)["application"]
    ws = await communicator(world.bruno, "/ws/chat/", application=application)
    await ws.send_json_to({"text": "hi"})
    assert await ws.receive_json_from() == {"text": "hi"}
    await ws.disconnect()
    await serves_notifications(application, world.bruno)


@check("installation", 'path("notifications/", include("django_live_notify.urls"))')
def check_installation_urls(snippet, world):
    urls = module_from(snippet.run(), "mysite.urls")
    assert reverse("live_notify:list", urlconf=urls) == "/notifications/"
    assert resolve("/notifications/api/unread-count/", urlconf=urls).view_name == "live_notify:api_unread_count"


@check("channels", "ChannelNameRouter")
async def check_channels_asgi(snippet, world):
    application = snippet.run()["application"]
    await serves_notifications(application, world.bruno)
    router = application.application_mapping["channel"]
    assert router.application_mapping["live-notify-delivery"].consumer_class is DeliveryConsumer


@check("channels", "class FcmBackend")
def check_channels_fcm_backend(snippet, world):
    posted = []
    answers = [201, 429, 201]

    class TestedFcm(snippet.run(__name__="myapp.fcm")["FcmBackend"]):
        def device_tokens(self, user):
            return ["device-1"]

        def post(self, message):
            posted.append(message)
            return answers.pop(0)

    fake_module(world, "myapp.fcm", FcmBackend=TestedFcm)
    world.settings.LIVE_NOTIFY = {"DELIVERY_BACKENDS": ["myapp.fcm.FcmBackend"], "DELIVERY_MODE": "sweep"}
    first = notify(world.ana, title="Sink fixed", message="Bruno fixed it", url="/requests/7/")
    later = timezone.now() + timedelta(seconds=61)
    delivery.sweep(now=later)
    assert posted[0]["message"]["notification"] == {"title": "Sink fixed", "body": "Bruno fixed it"}
    assert posted[0]["message"]["data"] == {"id": str(first.pk), "url": "/requests/7/"}
    second = notify(world.ana, title="Again")
    delivery.sweep(now=later + timedelta(seconds=61))
    assert Delivery.objects.get(notification=second).status == Delivery.STATUS.pending, "429 is retried"
    delivery.sweep(now=later + timedelta(hours=1))
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.STATUS.sent}


@check("quickstart", "websocket_application()")
async def check_quickstart_asgi(snippet, world):
    await serves_notifications(snippet.run()["application"], world.bruno)


@check("quickstart", "def hello(request)")
def check_quickstart_views(snippet, world):
    views = snippet.run()
    request = RequestFactory().post("/hello/")
    request.user = world.ana
    with capture_notifications() as captured:
        assert views["hello"](request).status_code == 204
    [row] = captured.assert_notified(world.ana, title="Hello", count=1)
    assert row.url == reverse("live_notify:list")
    anonymous = RequestFactory().get("/")
    anonymous.user = AnonymousUser()
    assert views["home"](anonymous).status_code == 302  # To the login page.


@check("quickstart", 'name="hello"')
def check_quickstart_urls(snippet, world):
    _views, urls = quickstart_project(world)
    assert reverse("hello", urlconf=urls) == "/hello/"
    assert reverse("live_notify:list", urlconf=urls) == "/notifications/"
    login_url = snippet_with("quickstart", "LOGIN_URL").run()["LOGIN_URL"]
    assert reverse(login_url, urlconf=urls) == "/admin/login/"


@check("quickstart", '"DIRS": [BASE_DIR / "mysite" / "templates"]')
def check_quickstart_page(snippet, world):
    """With the DIRS line, the quickstart's template, views and URLs serve the page of the tutorial."""
    dirs = eval("{" + snippet.code + "}", {"BASE_DIR": world.tmp_path})["DIRS"]
    template = snippet_with("quickstart", "Notify me", language="html+django").code
    dirs[0].mkdir(parents=True)
    (dirs[0] / "home.html").write_text(template, encoding="utf-8")
    views, urls = quickstart_project(world)
    world.settings.TEMPLATES = [{**world.settings.TEMPLATES[0], "DIRS": dirs}]
    world.settings.ROOT_URLCONF = urls
    request = RequestFactory().get("/")
    request.user = world.ana
    page = views["home"](request).content.decode()
    assert 'id="live-notify-config"' in page
    assert 'fetch("/hello/"' in page


@check("settings", "def test_resume_is_limited")
def check_override_settings(snippet, world):
    snippet.run()["test_resume_is_limited"]()
    assert live_settings.REPLAY_LIMIT == 100  # Undone after the test.


@check("api", "from django_live_notify import notify, anotify, broadcast, abroadcast")
def check_api_imports(snippet, world):
    namespace = snippet.run()
    assert all(callable(namespace[name]) for name in ("notify", "anotify", "broadcast", "abroadcast"))


@check("api", "notify(project.members.all()")
def check_notify(snippet, world):
    service_request = world.service_request
    with capture_notifications() as captured:
        snippet.run(service_request=service_request, customer=world.ana, project=world.project)
    [row] = captured.assert_notified(world.bruno, title="New service request", count=1)
    assert (row.message, row.sender, row.target, row.data, row.url) == (
        "ana asked for: Fix the sink",
        world.ana,
        service_request,
        {"priority": "high"},
        service_request.get_absolute_url(),
    )
    for member in (world.ana, world.bruno):
        captured.assert_notified(member, title="Project archived", count=1)


@check("api", 'broadcast(title="Maintenance tonight"')
def check_broadcast(snippet, world):
    with capture_notifications() as captured:
        snippet.run()
    assert {row.recipient for row in captured} == {world.ana, world.bruno}  # Every active user.


@check("api", "async def order_shipped(order)")
def check_anotify(snippet, world):
    order_shipped = snippet.run()["order_shipped"]
    with capture_notifications() as captured:
        async_to_sync(order_shipped)(SimpleNamespace(customer=world.ana, tracking_url="/orders/7/tracking/"))
    [row] = captured.assert_notified(world.ana, title="Your order has shipped", count=1)
    assert row.url == "/orders/7/tracking/"


@check("api", "with transaction.atomic():")
def check_sending_after_commit(snippet, world):
    with TestCase.captureOnCommitCallbacks(execute=True) as callbacks, capture_notifications() as captured:
        snippet.run(
            transaction=transaction,
            ServiceRequest=ServiceRequest,
            notify=notify,
            customer=world.ana,
            provider=world.bruno,
        )
    assert callbacks  # The live send waited for the commit.
    [row] = captured.assert_notified(world.bruno, title="New service request", count=1)
    assert row.target.title == "Fix the sink"


@check("api", "def notify_team(members: Recipients")
def check_types_in_own_helpers(snippet, world):
    from django_live_notify.api_types import Recipients

    notify_team = snippet.run()["notify_team"]
    assert inspect.get_annotations(notify_team, eval_str=True)["members"] == Recipients
    with capture_notifications() as captured:
        notify_team(world.project.members.filter(is_active=True), "Kitchen closed")
    assert {row.recipient for row in captured} == {world.ana, world.bruno}


@check("api", "# before: from services.websocket_utils import create_and_send_notification")
def check_design_document_import(snippet, world):
    assert snippet.run()["create_and_send_notification"] is django_live_notify.create_and_send_notification


@check("api", "notification_id = create_and_send_notification(")
def check_create_and_send_notification(snippet, world):
    namespace = snippet.run(
        create_and_send_notification=create_and_send_notification,
        user=world.bruno,
        customer=world.ana,
        request_id=world.service_request.pk,
    )
    row = Notification.objects.get(pk=namespace["notification_id"])
    assert (row.recipient, row.sender, row.notification_type, row.data) == (
        world.bruno,
        world.ana,
        "service_request",
        {"related_object_id": world.service_request.pk, "related_object_type": "ServiceRequest"},
    )


@check("api", "send_notification_to_user(user_id=456")
def check_send_notification_to_user(snippet, world):
    snippet.run(send_notification_to_user=send_notification_to_user)
    assert not Notification.objects.exists()  # Sent, not stored.


@check("api", "count = broadcast_system_notification(")
def check_broadcast_system_notification(snippet, world):
    count = snippet.run(broadcast_system_notification=broadcast_system_notification)["count"]
    assert count == get_user_model().objects.filter(pk__in=[1, 2, 3]).count()  # Unknown ids are skipped.


@check("api", "def email_urgent(")
def check_signal_receiver(snippet, world):
    queued = []
    email_urgent = snippet.run(send_urgent_email=SimpleNamespace(delay=queued.append))["email_urgent"]
    try:
        urgent = notify(world.bruno, title="The basement is flooding", notification_type="urgent")
        notify(world.bruno, title="Hello")
        broadcast(title="Maintenance tonight")  # Gives recipient_ids, not notifications.
    finally:
        notification_created.disconnect(email_urgent)
    assert queued == [urgent.pk]


@check("api", "Notification.objects.for_user(request.user).unread().count()")
def check_querysets(snippet, world):
    notify(world.ana, title="Unread")
    snippet.run(Notification=Notification, request=SimpleNamespace(user=world.ana), user=world.bruno)


@check("deployment", "tune_garbage_collector()")
def check_tune_garbage_collector(snippet, world):
    import gc

    thresholds = gc.get_threshold()
    try:
        snippet.run()
        assert gc.get_threshold() == (50_000, 20, 100) and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@check("deployment", "from django_live_notify.indexes import AddIndexOnline")
def check_add_index_online(snippet, world):
    from django.apps import apps as django_apps
    from django.db import connection
    from django.db.migrations.state import ProjectState

    from django_live_notify.indexes import AddIndexOnline

    migration = snippet.run()["Migration"]
    [operation] = migration.operations
    assert migration.atomic is False and isinstance(operation, AddIndexOnline)
    before = ProjectState.from_apps(django_apps)
    after = before.clone()
    operation.state_forwards("services", after)
    # Outside the test's transaction, as migrate runs it: only the statement is collected.
    connection.in_atomic_block, in_atomic_block = False, connection.in_atomic_block
    try:
        editor = connection.schema_editor(collect_sql=True, atomic=False)
        editor.deferred_sql = []
        operation.database_forwards("services", editor, before, after)
    finally:
        connection.in_atomic_block = in_atomic_block
    [statement] = editor.collected_sql
    assert "service_customer_id" in statement and "customer_id" in statement
    assert ("CONCURRENTLY" in statement) == (connection.vendor == "postgresql")


@check("grouping", "comments:request-{service_request.pk}")
def check_grouping(snippet, world):
    for author in (world.bruno, world.carla):
        snippet.run(service_request=world.service_request, comment=SimpleNamespace(author=author, text="Looks good"))
    row = Notification.objects.get(recipient=world.ana)
    assert (row.group_count, row.title) == (2, "carla and 1 others commented")


@check("grouping", "def comments_title(count)")
def check_group_title_callable(snippet, world):
    for _comment in range(3):
        snippet.run(notify=notify, owner=world.ana)
    row = Notification.objects.get(recipient=world.ana)
    assert (row.group_count, row.title) == (3, "3 new comments")


@check("http", "websockets.connect(")
async def check_python_socket_client(snippet, world):
    received: list[Any] = []
    session = await sync_to_async(ClientSession)(world.bruno)
    await snippet.arun(
        session=session,
        base="http://testserver",
        csrf=session.csrf_token,
        ws_base="ws://testserver",
        websockets=fake_websockets(received),
    )
    assert received == [{"type": "unread_count", "count": 0}]


@check("migration", "from services.websocket_utils import create_and_send_notification")
def check_migration_imports(snippet, world):
    fake_module(world, "services.websocket_utils", create_and_send_notification=lambda **kwargs: None)
    assert snippet.run()["create_and_send_notification"] is django_live_notify.create_and_send_notification


@check("migration", "notify.send(request.user")
def check_migration_sending(snippet, world):
    sent = []
    fake_module(
        world, "notifications.signals", notify=SimpleNamespace(send=lambda actor, **kwargs: sent.append(kwargs))
    )
    request = SimpleNamespace(user=world.ana)
    with capture_notifications() as captured:
        snippet.run(request=request, provider=world.bruno, service_request=world.service_request)
    assert [kwargs["verb"] for kwargs in sent] == ["asked for a quote"]
    [row] = captured.assert_notified(world.bruno, title="ana asked for a quote", count=1)
    assert (row.sender, row.target, row.message) == (world.ana, world.service_request, "Fix the sink")


@check("migration", "request.user.live_notifications.unread()")
def check_migration_reading(snippet, world):
    notify(world.ana, title="one")
    notify(world.ana, title="two")
    notify(world.bruno, title="not ana's")
    namespace = snippet.run(request=SimpleNamespace(user=world.ana))
    # The querysets are lazy: by now the last line has marked ana's two read, and only hers.
    assert (namespace["unread"].count(), namespace["shown"].count()) == (0, 0)
    assert Notification.objects.get(recipient=world.bruno).read_at is None
    Notification.objects.filter(recipient=world.ana).update(read_at=None)
    assert (namespace["unread"].count(), namespace["shown"].count()) == (2, 2)


@check("retention", "Flash sale: 20% off until noon")
def check_expiry(snippet, world):
    with capture_notifications() as captured:
        snippet.run(notify=notify, user=world.ana)
    [row] = captured.notifications
    assert timedelta(hours=2, minutes=59) < row.expires_at - timezone.now() <= timedelta(hours=3)


@check("rules", 'recipients="provider"')
def check_rule_from_keywords(snippet, world):
    run_in_example_app(snippet)
    with capture_notifications() as captured:
        request = ServiceRequest.objects.create(customer=world.ana, provider=world.bruno, title="Paint the door")
        ServiceRequest.objects.create(customer=world.ana, title="No provider yet")
    [row] = captured.assert_notified(world.bruno, title="New service request", count=1)
    assert (row.message, row.sender, row.target, row.url) == (
        "ana asked for: Paint the door",
        world.ana,
        request,
        request.get_absolute_url(),
    )
    assert len(captured) == 1  # A request without a provider notifies nobody.


@check("rules", "class OrderRule(Rule)")
def check_rule_classes(snippet, world):
    run_in_example_app(snippet)
    order = Order.objects.create(service_request=world.service_request, customer=world.ana)
    with capture_notifications() as captured:
        order.status = Order.Status.SCHEDULED
        order.save()
    [row] = captured.assert_notified(world.ana, title="Order updated", count=1)
    assert (row.message, row.sender) == ("Your order “Fix the sink” is now scheduled.", world.bruno)


@check("rules", "class MyAppConfig(AppConfig)")
def check_rules_module_imported_when_ready(snippet, world):
    package = world.tmp_path / "myapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "apps.py").write_text(snippet.code, encoding="utf-8")
    (package / "rules.py").write_text("IMPORTED = True\n")
    world.monkeypatch.syspath_prepend(str(world.tmp_path))
    try:
        config = AppConfig.create("myapp")
        assert type(config).__name__ == "MyAppConfig"
        config.ready()
        assert sys.modules["myapp.rules"].IMPORTED
    finally:
        for name in ("myapp", "myapp.apps", "myapp.rules"):
            sys.modules.pop(name, None)


@check("rules", 'tracker = FieldTracker(fields=["status"])')
def check_field_tracker(snippet, world):
    with isolate_apps("tests.testapp"):
        order_model = snippet.run(__name__="tests.testapp.models")["Order"]
        assert order_model.tracker.fields == {"status"}
        assert order_model().status == "placed"


@check("rules", "message.chat.other_participant(message.sender)")
def check_callable_recipients(snippet, world):
    snippet.run(register=register, changed=changed, _=gettext_lazy, Message=Message, Ticket=Ticket)
    chat = Chat.objects.create(customer=world.ana, professional=world.bruno)
    ticket = Ticket.objects.create(project=world.project, reporter=world.ana, title="Leaky tap")
    with capture_notifications() as captured:
        Message.objects.create(chat=chat, sender=world.ana, content="Tomorrow at 9?")
        ticket.status = Ticket.Status.CLOSED
        ticket.save()
    [row] = captured.assert_notified(world.bruno, title="New message", count=1)
    assert (row.message, row.target) == ("ana: Tomorrow at 9?", chat)
    for member in (world.ana, world.bruno):
        captured.assert_notified(member, title="Leaky tap was closed", count=1)
    captured.assert_not_notified(world.carla)  # Not active.


@check("rules", "exclude_sender=True")
def check_exclude_sender(snippet, world):
    snippet.run(register=register, _=gettext_lazy, Comment=Note)
    ticket = Ticket.objects.create(project=world.project, reporter=world.ana, title="Leaky tap")
    with capture_notifications() as captured:
        Note.objects.create(ticket=ticket, author=world.ana, text="Plumber booked")
    captured.assert_notified(world.bruno, title="ana commented on Leaky tap", count=1)
    captured.assert_not_notified(world.ana)


@check("rules", 'message=_("Your order is now {new}")')
def check_translated_format_strings(snippet, world):
    snippet.run(register=register, changed=changed, Order=Order)
    order = Order.objects.create(service_request=world.service_request, customer=world.ana)
    with capture_notifications() as captured:
        order.status = Order.Status.SCHEDULED
        order.save()
    [row] = captured.assert_notified(world.ana, title="Order update", count=1)
    assert row.message == "Your order is now scheduled"


@check("rules", "when=lambda ticket, event: ticket.assignee is None")
def check_conditions(snippet, world):
    snippet.run(register=register, changed=changed, _=gettext_lazy, Ticket=Ticket, Order=Order)
    order = Order.objects.create(service_request=world.service_request, customer=world.ana)
    with capture_notifications() as captured:
        Ticket.objects.create(project=world.project, reporter=world.ana, assignee=world.bruno, title="Assigned")
        Ticket.objects.create(project=world.project, reporter=world.ana, title="Leaky tap")
        for status in (Order.Status.SCHEDULED, Order.Status.CANCELLED):
            order.status = status
            order.save()
    assert [row.title for row in captured.for_user(world.bruno)] == ["Unassigned: Leaky tap"]
    assert [row.title for row in captured.for_user(world.ana)] == ["Unassigned: Leaky tap", "Order update"]


@check("actions", '@action("accept_request")')
def check_action_handler(snippet, world):
    run_in_example_app(snippet)
    notification = notify(
        world.bruno,
        title="New service request",
        target=world.service_request,
        actions=[{"label": "Accept", "method": "POST", "name": "accept_request"}],
    )
    [accept] = notification.to_payload()["actions"]
    answers = []
    for user in (world.ana, world.bruno, world.bruno):  # Not ana's notification; accepted; actions run once.
        client = Client()
        client.force_login(user)
        answers.append(client.post(accept["url"], headers={"accept": "application/json"}))
    assert [answer.status_code for answer in answers] == [404, 200, 409]
    assert answers[1].json()["result"] == {"status": "accepted"}
    world.service_request.refresh_from_db()
    assert world.service_request.status == "accepted"
    assert world.service_request.order.customer == world.ana


@check("actions", '{"label": "View", "url": service_request.get_absolute_url()}')
def check_actions_of_a_notification(snippet, world):
    run_in_example_app(snippet_with("actions", '@action("accept_request")'))
    with capture_notifications() as captured:
        snippet.run(notify=notify, service_request=world.service_request)
    [row] = captured.notifications
    assert [(action["label"], action["method"], action["url"]) for action in row.to_payload()["actions"]] == [
        ("Accept", "POST", reverse("live_notify:action", args=[row.pk, "accept_request"])),
        ("View", "GET", world.service_request.get_absolute_url()),
    ]


@check("inbox", '"outcome": "Accepted"')
def check_an_action_outcome(snippet, world):
    run_in_example_app(snippet_with("actions", '@action("accept_request")'))
    with capture_notifications() as captured:
        snippet.run(notify=notify, provider=world.bruno)
    [row] = captured.notifications
    # The handler accepts the request the notification is about.
    target_type = ContentType.objects.get_for_model(world.service_request)
    Notification.objects.filter(pk=row.pk).update(
        target_content_type=target_type, target_object_id=str(world.service_request.pk)
    )
    client = Client()
    client.force_login(world.bruno)
    url = reverse("live_notify:action", args=[row.pk, "accept_request"])
    answer = client.post(url, headers={"accept": "application/json"})
    assert answer.json()["outcome"] == {"action": "accept_request", "label": "Accepted"}
    assert client.post(url, headers={"accept": "application/json"}).status_code == 409


# The tests ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def restore_registries():
    """Forget the rules and action handlers the snippets registered."""
    rules_before = list(registry)
    handlers_before = dict(actions._handlers)
    yield
    for rule in registry:
        if rule not in rules_before:
            unregister(rule)
    actions._handlers.clear()
    actions._handlers.update(handlers_before)


@pytest.fixture
def world(request, settings, tmp_path, monkeypatch):
    """What the snippets assume: a customer (ana), a provider (bruno), a service request, a project."""
    settings.ROOT_URLCONF = __name__
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.settings")  # For the asgi.py snippets' setdefault().
    ana, bruno = make_user("ana"), make_user("bruno")
    carla = make_user("carla", is_active=False)
    project = Project.objects.create(name="Kitchen")
    project.members.add(ana, bruno, carla)
    service_request = ServiceRequest.objects.create(customer=ana, provider=bruno, title="Fix the sink")
    return SimpleNamespace(
        ana=ana,
        bruno=bruno,
        carla=carla,
        project=project,
        service_request=service_request,
        request=request,
        settings=settings,
        tmp_path=tmp_path,
        monkeypatch=monkeypatch,
    )


def test_every_python_snippet_runs_or_says_why_not():
    problems = []
    for snippet in SNIPPETS:
        if snippet.not_tested == "":
            problems.append(f"{snippet}: `.. not-tested:` needs a reason")
        elif snippet.not_tested is None and runner_of(snippet) is None:
            problems.append(
                f"{snippet}: no test runs this snippet: add a check to tests/test_docs.py, "
                "or put `.. not-tested: <reason>` before it"
            )
    for (page, needle), function in CHECKS.items():
        found = [snippet for snippet in SNIPPETS if snippet.page == page and needle in snippet.code]
        if len(found) != 1 or runner_of(found[0]) is not function:
            problems.append(f"{function.__name__} checks {len(found)} snippet(s) of {page}.rst holding {needle!r}")
    assert not problems, "\n".join(problems)


def test_the_reader_finds_indented_and_captioned_snippets():
    api = [snippet for snippet in SNIPPETS if snippet.page == "api"]
    assert len(api) >= 10
    assert any(snippet.code.startswith("from django_live_notify import broadcast\n") for snippet in api)
    assert [snippet.caption for snippet in SNIPPETS if snippet.page == "testing"] == [
        "test_notifications.py",
        "test_live.py",
    ]
    assert not looks_like_python('{"type": "update", "notification": {"id": 42}}')
    assert looks_like_python("notify(user, title='Hi')\n")


RUN = [snippet for snippet in SNIPPETS if runner_of(snippet) is not None]


@pytest.mark.django_db
@pytest.mark.parametrize("snippet", [snippet for snippet in RUN if not is_async(snippet)], ids=str)
def test_snippet(snippet, request):
    runner = runner_of(snippet)
    # Only the checks get the world: the other snippets create what they need.
    world = request.getfixturevalue("world") if runner in CHECKS.values() else SimpleNamespace(request=request)
    runner(snippet, world)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("snippet", [snippet for snippet in RUN if is_async(snippet)], ids=str)
async def test_snippet_with_a_socket(snippet, world):
    await runner_of(snippet)(snippet, world)
