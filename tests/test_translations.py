"""The shipped pt_BR catalog: pages, template tags, models and messages render in Portuguese."""

import ast
import gettext
import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, modify_settings, override_settings
from django.urls import reverse
from django.utils import translation

import django_live_notify
from django_live_notify import notify, preferences, stats
from django_live_notify.apps import LiveNotifyConfig
from django_live_notify.models import Notification, NotificationPreference
from tests.conftest import make_user
from tests.test_stats import fixture_rows  # noqa: F401 (a fixture)
from tests.test_templatetags import render
from tests.test_webpush import PUSH_SETTINGS


@pytest.fixture
def ana(db):
    return make_user("ana")


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_history_page_renders_in_portuguese(ana):
    notify(ana, title="Nova solicitação", message="Ana pediu: consertar a pia")
    with translation.override("pt-br"):
        html = logged_in(ana).get(reverse("live_notify:list")).content.decode()
    assert "<title>Notificações</title>" in html
    assert "1 notificação não lida" in html
    assert "Marcar todas como lidas" in html
    assert "Só não lidas" in html
    assert "Todos os tipos" in html
    assert "Marcar como lida" in html
    assert "Não lida" in html
    assert "Mark all read" not in html


def test_empty_history_page_renders_in_portuguese(ana):
    with translation.override("pt-br"):
        html = logged_in(ana).get(reverse("live_notify:list")).content.decode()
    assert "Você ainda não tem notificações." in html


def test_english_stays_the_default(ana):
    with translation.override("en"):
        html = logged_in(ana).get(reverse("live_notify:list")).content.decode()
    assert "You have no notifications yet." in html
    assert "0 unread notifications" in html


def test_template_tag_renders_in_portuguese(ana):
    with translation.override("pt-br"):
        html, _request = render("{% live_notifications %}", ana)
    assert '<span class="live-notify-visually-hidden">Notificações</span>' in html
    config = json.loads(re.search(r'id="live-notify-config"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert config["strings"] == {"dismiss": "Dispensar"}


# "N unread" in pt_BR, as the tags hand it to the scripts. Its rule is (n > 1): 0 and 1 take the first form.
PT_UNREAD_FORMS = {"forms": ["%(counter)s não lida", "%(counter)s não lidas"], "index": "00" + "1" * 198}


def rendered_in_portuguese_at_one_then_two_unread(ana, template):
    """Return ``template`` rendered for ana in pt-BR with 1 unread notification, then with 2."""
    pages = []
    for title in ("Uma", "Outra"):
        notify(ana, title=title)
        with translation.override("pt-br"):
            pages.append(render(template, ana)[0])
    return pages


def test_the_standalone_bell_says_its_count_in_portuguese_with_its_plural_forms(ana):
    one, two = rendered_in_portuguese_at_one_then_two_unread(ana, "{% live_notify_badge %}")
    # A screen reader hears "Notificações 1 não lida", then "Notificações 2 não lidas".
    assert '<span class="live-notify-visually-hidden">Notificações</span>' in one
    assert re.search(r'data-live-notify-badge data-count="1" data-live-notify-plural="[^"]*">1 não lida</span>', one)
    assert re.search(r'data-live-notify-badge data-count="2" data-live-notify-plural="[^"]*">2 não lidas</span>', two)
    plural = json.loads(unescape(re.search(r'data-live-notify-plural="([^"]*)"', two).group(1)))
    # The client picks the form as the count changes.
    assert plural == PT_UNREAD_FORMS


def test_the_push_workers_title_for_a_push_without_one_reaches_the_page_translated(ana):
    def strings(language):
        with translation.override(language), override_settings(LIVE_NOTIFY=PUSH_SETTINGS):
            html, _request = render("{% live_notifications %}", ana)
        return json.loads(re.search(r'id="live-notify-config"[^>]*>(.*?)</script>', html, re.S).group(1))["strings"]

    # enablePush() hands it to the worker in its registration URL (tests/js/push.test.js).
    assert strings("pt-br") == {"dismiss": "Dispensar", "newNotification": "Nova notificação"}
    assert strings("en") == {"dismiss": "Dismiss", "newNotification": "New notification"}


def test_the_history_page_says_read_and_unread_of_one_notification(ana):
    read, _unread = notify(ana, title="Lida"), notify(ana, title="Nova")
    Notification.objects.filter(pk=read.pk).update(read_at=read.created)
    with translation.override("pt-br"):
        html = logged_in(ana).get(reverse("live_notify:list")).content.decode()
    assert re.findall(r'<span class="live-notify-item__state">([^<]*)</span>', html) == ["Não lida", "Lida"]


def test_model_and_app_names_are_portuguese():
    with translation.override("pt-br"):
        assert str(Notification._meta.verbose_name) == "notificação"
        assert str(Notification._meta.verbose_name_plural) == "notificações"
        assert str(Notification._meta.get_field("recipient").verbose_name) == "destinatário"
        assert str(NotificationPreference._meta.verbose_name) == "preferência de notificação"
        assert str(LiveNotifyConfig.verbose_name) == "Notificações em tempo real"
        assert [str(label) for _value, label in NotificationPreference.DELIVERY] == [
            "Em tempo real e guardada",
            "Só guardada, sem aviso na tela",
            "Desativada",
        ]


def test_preferences_page_messages_are_portuguese(ana):
    with translation.override("pt-br"):
        html = logged_in(ana).get(reverse("live_notify:preferences") + "?saved=1").content.decode()
    assert "Preferências de notificação" in html
    assert "Suas preferências foram salvas." in html


@override_settings(LIVE_NOTIFY={"MANDATORY_TYPES": ["security"]})
def test_preference_errors_are_portuguese(ana):
    with translation.override("pt-br"), pytest.raises(preferences.PreferenceError) as raised:
        preferences.set_preferences(ana, {"security": "off"})
    assert str(raised.value) == "As notificações 'security' são obrigatórias: não podem ser 'off'."
    with pytest.raises(preferences.PreferenceError) as raised:
        preferences.set_preferences(ana, {"security": "off"})
    assert str(raised.value) == "'security' notifications are mandatory: they cannot be 'off'."


@override_settings(LIVE_NOTIFY={"MAX_PREFERENCES": 1})
def test_preference_bound_errors_are_portuguese(ana):
    with translation.override("pt-br"):
        with pytest.raises(preferences.PreferenceError) as raised:
            preferences.set_preferences(ana, {"a b": "off"})
        assert str(raised.value).startswith("'a b' não é um tipo de notificação")
        with pytest.raises(preferences.PreferenceError) as raised:
            preferences.set_preferences(ana, {"a": "off", "b": "off"})
        assert str(raised.value).startswith("No máximo 1 tipos de notificação podem ter uma preferência")


def test_inbox_renders_in_portuguese(ana):
    with translation.override("pt-br"):
        html, _request = render("{% live_notify_inbox %}", ana)
    strings = json.loads(re.search(r'id="live-notify-inbox-config"[^>]*>(.*?)</script>', html, re.S).group(1))[
        "strings"
    ]
    assert ">Arquivadas</button>" in html and ">Não lidas</button>" in html and ">Todas</button>" in html
    assert ">Ver todas as notificações</a>" in html
    assert 'data-empty-unread="Você está em dia."' in html
    assert (strings["archive"], strings["snooze"], strings["inOneHour"]) == ("Arquivar", "Adiar", "1 hora")


def test_the_inbox_counts_in_portuguese_with_its_plural_forms(ana):
    one, two = rendered_in_portuguese_at_one_then_two_unread(ana, "{% live_notify_inbox %}")
    assert 'aria-label="Notificações, 1 nova"' in one and 'aria-label="Notificações, 2 novas"' in two
    assert re.search(r"data-live-notify-inbox-unread [^>]*>1 não lida</span>", one)
    assert re.search(r"data-live-notify-inbox-unread [^>]*>2 não lidas</span>", two)
    config = json.loads(re.search(r'id="live-notify-inbox-config"[^>]*>(.*?)</script>', two, re.S).group(1))
    assert config["plurals"]["unreadSummary"] == PT_UNREAD_FORMS
    assert config["plurals"]["bellLabel"]["forms"] == [
        "Notificações, %(counter)s nova",
        "Notificações, %(counter)s novas",
    ]
    assert config["strings"]["unread"] == "não lida"
    assert config["strings"]["snoozedUntilTime"] == "Adiada até %(time)s"


def test_a_timeline_is_named_in_portuguese_for_display_and_in_english_for_code(fixture_rows):  # noqa: F811
    notification = Notification.objects.get(pk=fixture_rows[0])
    with translation.override("pt-br"):
        shown = [name for name, _moment in stats.timeline(notification, translated=True)]
        named = [name for name, _moment in stats.timeline(notification)]
    assert shown == [
        "criada", "entregue (live)", "entregue (webpush)", "entregue (email)", "vista", "clicada", "lida",
        "ação executada: pay",
    ]  # fmt: skip
    assert named[0] == "created" and named[-1] == "acted: pay"


@modify_settings(MIDDLEWARE={"append": "django.middleware.locale.LocaleMiddleware"})
def test_analytics_admin_page_renders_in_portuguese_for_a_portuguese_browser(client, fixture_rows):  # noqa: F811
    client.force_login(get_user_model().objects.create_superuser("root", password="pw"))
    # LocaleMiddleware activates the browser's language for the thread and leaves it active after the
    # response: override() puts back the language the next test expects.
    with translation.override(None):
        response = client.get(
            "/admin/django_live_notify/notification/analytics/",
            {"since": "2026-11-02", "until": "2026-11-03"},
            headers={"accept-language": "pt-BR,pt;q=0.9"},
        )
    html = response.content.decode()
    assert response["Content-Language"] == "pt-br"
    assert "Estatísticas das notificações" in html
    assert "<title>Notificações por dia</title>" in html
    assert "<title>11-02 envios: 7</title>" in html
    assert "<th>Entregues (webpush)</th>" in html
    assert "<th>Enviadas</th>" in html and "<th>Lidas</th>" in html and "<th>p50 leitura</th>" in html
    assert "Nenhuma notificação neste período." not in html
    assert "Notifications per day" not in html


# The catalogs: the test below reads the .po files with this small parser, so that it needs no polib.
PACKAGE = Path(django_live_notify.__file__).parent
LOCALE = PACKAGE / "locale"


def read_po(path):
    """Return the entries of a .po file: dicts with the flags, msgctxt, msgid, msgid_plural and msgstr(s)."""
    entries, entry, field = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = line.strip()
        if not line or line.startswith("#~"):
            if entry is not None and "msgid" in entry:
                entries.append(entry)
                entry = None
            continue
        if entry is None:
            entry = {"flags": set(), "msgstr": {}}
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            text = ast.literal_eval(line)
            if isinstance(field, int):
                entry["msgstr"][field] += text
            else:
                entry[field] += text
        else:
            keyword, text = line.split(" ", 1)
            plural_form = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            field = int(plural_form.group(1)) if plural_form else 0 if keyword == "msgstr" else keyword
            if isinstance(field, int):
                entry["msgstr"][field] = ast.literal_eval(text)
            else:
                entry[field] = ast.literal_eval(text)
    return entries


def catalog_of(entries):
    """Return what msgfmt would compile from ``entries``, keyed as gettext.GNUTranslations keys its catalog."""
    catalog = {}
    for entry in entries:
        if "fuzzy" in entry["flags"] or not all(entry["msgstr"].values()):
            continue
        key = entry["msgid"] if "msgctxt" not in entry else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if "msgid_plural" in entry:
            catalog.update({(key, number): text for number, text in entry["msgstr"].items()})
        else:
            catalog[key] = entry["msgstr"][0]
    # msgfmt leaves this line out of the header it compiles.
    catalog[""] = re.sub(r"^POT-Creation-Date: .*\n", "", catalog.get("", ""), flags=re.M)
    return catalog


def test_the_portuguese_catalog_has_no_untranslated_or_fuzzy_entry():
    entries = read_po(LOCALE / "pt_BR" / "LC_MESSAGES" / "django.po")
    assert len(entries) > 150
    assert [entry["msgid"] for entry in entries if "fuzzy" in entry["flags"]] == []
    assert [entry["msgid"] for entry in entries if entry["msgid"] and not all(entry["msgstr"].values())] == []
    plurals = [entry for entry in entries if "msgid_plural" in entry]
    assert plurals and all(sorted(entry["msgstr"]) == [0, 1] for entry in plurals)


@pytest.mark.parametrize("language", ["en", "pt_BR"])
def test_the_compiled_catalog_holds_exactly_what_its_po_file_says(language):
    # Compared by content: a checkout gives both files the same age, so their times say nothing.
    directory = LOCALE / language / "LC_MESSAGES"
    with (directory / "django.mo").open("rb") as compiled:
        translations = gettext.GNUTranslations(compiled)
    assert translations._catalog == catalog_of(read_po(directory / "django.po"))


def gettext_tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (GNU gettext; .ci/run installs it)")
    return path


def test_the_portuguese_catalog_passes_msgfmt_check(tmp_path):
    msgfmt = gettext_tool("msgfmt")
    result = subprocess.run(
        [msgfmt, "--check", "-o", str(tmp_path / "django.mo"), str(LOCALE / "pt_BR" / "LC_MESSAGES" / "django.po")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_catalogs_have_every_string_of_the_code_and_no_other(tmp_path):
    gettext_tool("xgettext")
    gettext_tool("msgmerge")
    package = tmp_path / "django_live_notify"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "en", "-l", "pt_BR", "--no-obsolete"],
        cwd=package,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    for language in ["en", "pt_BR"]:
        path = Path("locale") / language / "LC_MESSAGES" / "django.po"
        shipped, regenerated = read_po(PACKAGE / path), read_po(package / path)
        # makemessages adds what the code gained (untranslated) and drops what it lost; it marks fuzzy a guess.
        assert [entry for entry in regenerated if "fuzzy" in entry["flags"]] == []
        assert sorted(entry["msgid"] for entry in regenerated) == sorted(entry["msgid"] for entry in shipped)
        assert catalog_of(regenerated) | {"": ""} == catalog_of(shipped) | {"": ""}
