"""The shipped pt_BR catalog: pages, template tags, models and messages render in Portuguese."""

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from django_live_notify import notify, preferences
from django_live_notify.apps import LiveNotifyConfig
from django_live_notify.models import Notification, NotificationPreference
from tests.conftest import make_user
from tests.test_templatetags import render


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
    assert 'aria-label="Notificações"' in html


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
