"""Notification rules: events, recipients, texts, conditions, transactions, query counts, listing."""

import array
import json
import re
import struct

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from django_live_notify import protocol, publish
from django_live_notify.models import Notification
from django_live_notify.rules import ANY, Event, Rule, changed, register, registry, unregister
from tests.conftest import make_user, open_socket
from tests.testapp.models import Note, Project, Thing, Ticket

NOTIFICATION_INSERT = f"INSERT INTO {connection.ops.quote_name(Notification._meta.db_table)}"


@pytest.fixture(autouse=True)
def clean_registry():
    """Unregister the rules a test registered."""
    before = list(registry)
    yield
    for rule in registry:
        if rule not in before:
            unregister(rule)


@pytest.fixture
def published(monkeypatch):
    """Record the notification messages sent to sockets instead of sending them."""
    messages = []
    original = publish.publish

    def recording(message, everyone=False):
        if "tail" in message:
            messages.append(message)
        original(message, everyone)

    monkeypatch.setattr(publish, "publish", recording)
    return messages


@pytest.fixture
def people(user_factory):
    return [user_factory(name) for name in ("ana", "bob", "cid")]


def rows():
    return list(Notification.objects.order_by("id"))


# Events


def test_created_notifies_the_user_at_a_field_path(people):
    ana, bob, _cid = people
    register(
        Ticket,
        on="created",
        recipients="assignee",
        sender="reporter",
        notification_type="ticket",
        title="New ticket",
        message="{sender} opened: {instance.title}",
        data={"priority": "high"},
    )

    ticket = Ticket.objects.create(reporter=ana, assignee=bob, title="Fix the sink")
    ticket.title = "Fix the sink now"
    ticket.save()

    (row,) = rows()
    assert (row.recipient, row.sender, row.target) == (bob, ana, ticket)
    assert (row.title, row.message, row.notification_type) == ("New ticket", "ana opened: Fix the sink", "ticket")
    assert row.url == ticket.get_absolute_url()
    assert row.data == {"priority": "high"}


def test_updated_fires_on_every_save_of_an_existing_row(people):
    ana, bob, _cid = people
    register(Ticket, on="updated", recipients="reporter", title="{instance.title} was edited")

    ticket = Ticket.objects.create(reporter=ana, assignee=bob, title="Sink")
    assert rows() == []
    ticket.save()
    ticket.save(update_fields=["title"])

    assert [(row.recipient, row.title) for row in rows()] == [(ana, "Sink was edited")] * 2


def test_deleted_keeps_the_instance_data_but_has_no_target_or_url(people):
    ana, bob, _cid = people
    register(Ticket, on="deleted", recipients="assignee", sender="reporter", title="Ticket #{instance.pk} deleted")
    ticket = Ticket.objects.create(reporter=ana, assignee=bob, title="Sink")
    pk = ticket.pk

    ticket.delete()

    (row,) = rows()
    assert (row.recipient, row.sender, row.title) == (bob, ana, f"Ticket #{pk} deleted")
    assert (row.target_content_type_id, row.target_object_id, row.url) == (None, "", "")


def test_changed_reads_the_field_tracker(people):
    ana, bob, _cid = people
    register(
        Ticket,
        on=changed("status"),
        recipients="reporter",
        title="Ticket {old} → {new}",
        message=lambda ticket, event: f"{event.field}: {event.old} → {ticket.get_status_display()}",
    )
    ticket = Ticket.objects.create(reporter=ana, assignee=bob, title="Sink")
    ticket.save()  # Nothing changed.
    ticket.status = Ticket.Status.IN_PROGRESS
    ticket.save()
    ticket.save()  # The tracker was reset by the save before.
    ticket.status = Ticket.Status.CLOSED
    ticket.title = "Sink (fixed)"
    ticket.save(update_fields=["title"])  # The status change is not saved.
    ticket.save(update_fields=["status"])

    assert [(row.title, row.message) for row in rows()] == [
        ("Ticket open → in_progress", "status: open → In progress"),
        ("Ticket in_progress → closed", "status: in_progress → Closed"),
    ]


def test_changed_without_a_tracker_reads_the_stored_value_with_one_query(people):
    ana, bob, _cid = people
    ticket = Ticket.objects.create(reporter=ana, title="Sink")
    register(Note, on=changed("pinned", new=True), recipients="ticket.reporter", title="Pinned: {instance.text}")
    note = Note.objects.create(ticket=ticket, author=bob, text="Bring a wrench")
    note = Note.objects.get(pk=note.pk)

    note.text = "Bring two wrenches"
    with CaptureQueriesContext(connection) as queries:
        note.save()
    note.pinned = True
    note.save()
    note.save()
    note.pinned = False
    note.save()
    note.pinned = True
    note.text = "ignored"
    note.save(update_fields=["text"])

    # An UPDATE and the SELECT of the stored value; no notification.
    assert len(queries) == 2
    assert "pinned" in queries[0]["sql"]
    assert [(row.recipient, row.title) for row in rows()] == [(ana, "Pinned: Bring two wrenches")]


def test_changed_can_require_old_and_new_values(people):
    ana, _bob, _cid = people
    register(Ticket, on=changed("status", new=Ticket.Status.CLOSED), recipients="reporter", title="closed")
    register(
        Ticket,
        on=changed("status", old=[Ticket.Status.IN_PROGRESS, Ticket.Status.CLOSED], new=Ticket.Status.OPEN),
        recipients="reporter",
        title="reopened",
    )
    ticket = Ticket.objects.create(reporter=ana, title="Sink")
    for status in ("in_progress", "closed", "open", "closed", "in_progress", "open"):
        ticket.status = status
        ticket.save()

    assert [row.title for row in rows()] == ["closed", "reopened", "closed", "reopened"]


def test_changed_foreign_key_gives_ids(people):
    ana, bob, cid = people
    register(Ticket, on=changed("assignee"), recipients="assignee", title="Yours now (was user {old})")
    ticket = Ticket.objects.create(reporter=ana, assignee=bob, title="Sink")

    ticket.assignee = cid
    ticket.save()

    (row,) = rows()
    assert (row.recipient, row.title) == (cid, f"Yours now (was user {bob.pk})")


def test_raw_saves_notify_nobody(people):
    ana, bob, _cid = people
    register(Ticket, on="created", recipients="assignee", title="New")

    Ticket(reporter=ana, assignee=bob, title="From a fixture").save_base(raw=True)

    assert rows() == []


# Recipients


def test_a_field_path_follows_foreign_keys_and_stops_at_none(people):
    ana, bob, _cid = people
    register(Note, on="created", recipients="ticket.assignee", sender="author", title="Note on {instance.ticket}")
    assigned = Ticket.objects.create(reporter=ana, assignee=bob, title="Sink")
    unassigned = Ticket.objects.create(reporter=ana, title="Roof")

    Note.objects.create(ticket=assigned, author=ana, text="a")
    Note.objects.create(ticket=unassigned, author=ana, text="b")

    assert [(row.recipient, row.title) for row in rows()] == [(bob, "Note on Sink")]


def test_a_field_path_to_a_many_to_many_field_notifies_every_member(people):
    ana, bob, cid = people
    register(Ticket, on="created", recipients="project.members", sender="reporter", exclude_sender=True, title="New")
    project = Project.objects.create(name="House")
    project.members.set([ana, bob, cid])

    Ticket.objects.create(project=project, reporter=ana, title="Sink")

    assert sorted(row.recipient.username for row in rows()) == ["bob", "cid"]


def test_a_callable_may_return_a_user_a_list_or_nobody(people):
    ana, bob, cid = people
    by_name = {"one": bob, "none": None}
    register(Thing, on="created", recipients=lambda thing, event: by_name[thing.name], title="1")
    register(Thing, on="created", recipients=lambda thing, event: [ana, None, cid], title="2")

    Thing.objects.create(name="one")
    Thing.objects.create(name="none")

    assert [(row.title, row.recipient) for row in rows()] == [("1", bob), *[("2", ana), ("2", cid)] * 2]


def test_a_queryset_callable_is_filtered_in_the_database(people):
    ana, bob, _cid = people
    register(
        Ticket,
        on="updated",
        recipients=lambda ticket, event: get_user_model().objects.exclude(username="cid"),
        sender="reporter",
        exclude_sender=True,
        title="Ticket edited",
    )
    ticket = Ticket.objects.select_related("reporter").get(pk=Ticket.objects.create(reporter=ana, title="x").pk)

    with CaptureQueriesContext(connection) as queries:
        ticket.save()

    # The ticket's UPDATE, one SELECT of recipient ids (the sender excluded in SQL), one SELECT of their
    # preferences for the type, one INSERT.
    statements = [query["sql"].split()[0] for query in queries if "SAVEPOINT" not in query["sql"]]
    assert statements == ["UPDATE", "SELECT", "SELECT", "INSERT"]
    selects = [query["sql"] for query in queries if query["sql"].startswith("SELECT")]
    assert "notificationpreference" in selects[1]

    assert [row.recipient for row in rows()] == [bob]


def test_exclude_sender_drops_the_sender_from_a_list(people):
    ana, bob, _cid = people
    register(
        Ticket,
        on="created",
        recipients=lambda ticket, event: [ticket.reporter, ticket.assignee],
        sender="reporter",
        exclude_sender=True,
        title="New",
    )

    Ticket.objects.create(reporter=ana, assignee=bob, title="Sink")
    Ticket.objects.create(reporter=ana, assignee=ana, title="Self-assigned")

    assert [row.recipient for row in rows()] == [bob]


@pytest.mark.parametrize(
    "recipients",
    [
        lambda ticket, event: ticket,
        lambda ticket, event: "ana",
        lambda ticket, event: Ticket.objects.all(),
        "project",
    ],
)
def test_recipients_that_are_not_users_fail_naming_the_rule(people, recipients):
    ana, _bob, _cid = people
    register(Ticket, on="created", recipients=recipients, title="New", name="broken rule")
    project = Project.objects.create(name="House")

    with pytest.raises(TypeError, match="recipients must be users") as error:
        Ticket.objects.create(project=project, reporter=ana, title="Sink")

    assert "notification rule 'broken rule'" in "".join(error.value.__notes__)
    assert "created testapp.Ticket" in "".join(error.value.__notes__)


# Texts and the other options


def test_callables_receive_the_instance_and_the_event(people):
    ana, bob, _cid = people
    calls = []

    def title(ticket, event):
        calls.append((ticket, event))
        return _("Edited")

    register(
        Ticket,
        on=changed("status"),
        recipients=lambda ticket, event: ticket.assignee,
        sender=lambda ticket, event: ticket.reporter,
        title=title,
        message=lambda ticket, event: "{not formatted}",
        notification_type=lambda ticket, event: f"ticket_{event.new}",
        url=lambda ticket, event: f"/t/{ticket.pk}/",
        target=lambda ticket, event: ticket.project,
        data=lambda ticket, event: {"status": event.new},
    )
    project = Project.objects.create(name="House")
    ticket = Ticket.objects.create(project=project, reporter=ana, assignee=bob, title="Sink")
    ticket.status = Ticket.Status.CLOSED
    ticket.save()

    (row,) = rows()
    assert calls == [(ticket, Event("changed", ticket, field="status", old="open", new="closed"))]
    assert (row.recipient, row.sender, row.target) == (bob, ana, project)
    assert (row.title, row.message, row.notification_type) == ("Edited", "{not formatted}", "ticket_closed")
    assert (row.url, row.data) == (f"/t/{ticket.pk}/", {"status": "closed"})


def test_url_defaults_to_the_targets_url_and_can_be_a_format_string_or_empty(people):
    ana, bob, _cid = people
    register(Note, on="created", recipients="ticket.reporter", target="ticket", title="default")
    register(Note, on="created", recipients="ticket.reporter", url="/notes/{instance.pk}/", title="format")
    register(Note, on="created", recipients="ticket.reporter", url="", target=None, title="none")
    ticket = Ticket.objects.create(reporter=ana, title="Sink")

    note = Note.objects.create(ticket=ticket, author=bob, text="t")

    assert [(row.title, row.url, row.target) for row in rows()] == [
        ("default", ticket.get_absolute_url(), ticket),
        ("format", f"/notes/{note.pk}/", note),
        ("none", "", None),
    ]


@pytest.mark.parametrize("url", ["{instance.title}", lambda ticket, event: "javascript:alert(1)"])
def test_a_url_that_turns_out_unsafe_fails_the_save_and_stores_nothing(people, url):
    ana, _bob, _cid = people
    register(Ticket, on="created", recipients="reporter", title="New", url=url)

    with pytest.raises(ValueError, match=r"url must be relative or http\(s\), not 'javascript:alert\(1\)'"):
        Ticket.objects.create(reporter=ana, title="javascript:alert(1)")

    assert not Notification.objects.exists()


def test_a_long_title_is_truncated(people):
    ana, _bob, _cid = people
    register(Ticket, on="created", recipients="reporter", title="New: {instance.title}")

    Ticket.objects.create(reporter=ana, title="x" * 300)

    (row,) = rows()
    assert len(row.title) == 255
    assert row.title.startswith("New: xxx") and row.title.endswith("…")


def write_catalog(directory, language, messages):
    """Write a gettext catalog (a .mo file) for ``language`` under ``directory``."""
    messages = {"": "Content-Type: text/plain; charset=UTF-8\n", **messages}
    keys = sorted(key.encode() for key in messages)
    values = [messages[key.decode()].encode() for key in keys]
    ids = strs = b""
    key_offsets, value_offsets = [], []
    for key, value in zip(keys, values, strict=True):
        key_offsets.append((len(key), len(ids)))
        value_offsets.append((len(value), len(strs)))
        ids += key + b"\0"
        strs += value + b"\0"
    keys_start = 7 * 4 + 16 * len(keys)
    values_start = keys_start + len(ids)
    offsets = [n for length, start in key_offsets for n in (length, start + keys_start)]
    offsets += [n for length, start in value_offsets for n in (length, start + values_start)]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    path = directory / language / "LC_MESSAGES"
    path.mkdir(parents=True)
    (path / "django.mo").write_bytes(header + array.array("i", offsets).tobytes() + ids + strs)


def test_lazy_strings_are_translated_when_the_rule_fires(people, tmp_path):
    ana, _bob, _cid = people
    write_catalog(
        tmp_path,
        "de",
        {"Ticket closed": "Ticket geschlossen", "{instance.title} is now {new}": "{instance.title} ist jetzt {new}"},
    )
    register(
        Ticket,
        on=changed("status"),
        recipients="reporter",
        title=_("Ticket closed"),
        message=_("{instance.title} is now {new}"),
    )
    ticket = Ticket.objects.create(reporter=ana, title="Sink")

    with override_settings(LOCALE_PATHS=[tmp_path]):
        for language, status in (("de", Ticket.Status.CLOSED), ("en", Ticket.Status.OPEN)):
            ticket.status = status
            with translation.override(language):
                ticket.save()

    assert [(row.title, row.message) for row in rows()] == [
        ("Ticket geschlossen", "Sink ist jetzt closed"),
        ("Ticket closed", "Sink is now open"),
    ]


# Conditions


def test_when_decides_with_the_instance_and_the_event(people):
    ana, bob, _cid = people
    seen = []

    def urgent(ticket, event):
        seen.append(event.kind)
        return ticket.title.startswith("!")

    register(Ticket, on="created", recipients="assignee", when=urgent, title="Urgent: {instance.title}")

    Ticket.objects.create(reporter=ana, assignee=bob, title="! Leak")
    Ticket.objects.create(reporter=ana, assignee=bob, title="Paint")

    assert seen == ["created", "created"]
    assert [row.title for row in rows()] == ["Urgent: ! Leak"]


# The class form


class TicketRule(Rule):
    """Shared options; not registered itself."""

    model = Ticket
    recipients = "reporter"
    notification_type = "ticket"


def test_a_registered_rule_class_uses_its_attributes_and_methods(people):
    ana, bob, _cid = people

    @register
    class TicketClosed(TicketRule):
        on = changed("status", new=Ticket.Status.CLOSED)
        title = _("Closed: {instance.title}")

        def sender(self, ticket, event):
            return ticket.assignee

        def when(self, ticket, event):
            return ticket.assignee is not None

        def message(self, ticket, event):
            return f"{ticket.assignee} closed it."

    assert TicketClosed.__name__ == "TicketClosed"
    assert [str(rule) for rule in registry] == ["TicketClosed"]
    unassigned = Ticket.objects.create(reporter=ana, title="Roof")
    ticket = Ticket.objects.create(reporter=ana, assignee=bob, title="Sink")
    for closed in (unassigned, ticket):
        closed.status = Ticket.Status.CLOSED
        closed.save()

    (row,) = rows()
    assert (row.recipient, row.sender, row.notification_type) == (ana, bob, "ticket")
    assert (row.title, row.message, row.target) == ("Closed: Sink", "bob closed it.", ticket)

    with pytest.raises(ImproperlyConfigured, match="TicketClosed is already registered"):
        register(TicketClosed)


def test_unregister_stops_a_rule(people):
    ana, bob, _cid = people
    rule = register(Ticket, on="created", recipients="assignee", title="New")
    Ticket.objects.create(reporter=ana, assignee=bob, title="one")

    unregister(rule)
    Ticket.objects.create(reporter=ana, assignee=bob, title="two")

    assert len(rows()) == 1
    with pytest.raises(LookupError):
        unregister(rule)


# Mistakes found at registration


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"model": Thing, "on": "saved"}, "on must be 'created', 'updated', 'deleted' or changed"),
        ({"model": None, "on": "created"}, "model must be a model class"),
        ({"model": Notification, "on": "created"}, "use the notification_created signal"),
        ({"model": Ticket, "on": changed("colour")}, "Ticket has no field 'colour'"),
        ({"model": Project, "on": changed("members")}, "many-to-many changes are not saves"),
        ({"model": Ticket, "on": changed("status", new="done")}, "new='done' is not a choice of Ticket.status"),
        ({"model": Ticket, "on": "created", "recipients": None}, "recipients is required"),
        ({"model": Ticket, "on": "created", "recipients": "asignee"}, "Ticket has no attribute 'asignee'"),
        ({"model": Ticket, "on": "created", "recipients": "project.owner"}, "Project has no attribute 'owner'"),
        ({"model": Ticket, "on": "created", "sender": 7}, "sender must be a field path"),
        ({"model": Ticket, "on": "created", "title": " "}, "title is required"),
        ({"model": Ticket, "on": "created", "title": "{ticket.title}"}, "uses {ticket.title}"),
        ({"model": Ticket, "on": "created", "title": "{}"}, "uses {}"),
        ({"model": Ticket, "on": "created", "title": "a {"}, "is not a format string"),
        ({"model": Ticket, "on": "created", "message": _("{oldd}")}, "uses {oldd}"),
        ({"model": Ticket, "on": "created", "data": [1]}, "data must be a dict"),
        ({"model": Ticket, "on": "created", "url": "javascript:go({instance.pk})"}, "url must be relative or http(s)"),
        ({"model": Ticket, "on": "created", "when": True}, "when must be a callable"),
        ({"model": Ticket, "on": "created", "notification_type": "nope"}, "not in LIVE_NOT"),
    ],
)
@override_settings(LIVE_NOTIFY={"NOTIFICATION_TYPES": [("system", "System")]})
def test_mistakes_are_reported_at_registration(options, error):
    options = {"recipients": "reporter", "title": "T", **options}

    with pytest.raises(ImproperlyConfigured, match=re.escape(error)):
        register(options.pop("model"), **options)

    assert len(registry) == 0


def test_unknown_options_are_refused():
    with pytest.raises(TypeError, match="unknown option 'recipient'"):
        register(Ticket, on="created", recipient="assignee", title="T")


def test_a_failing_rule_fails_the_save_and_names_the_rule(people):
    ana, _bob, _cid = people
    register(Ticket, on="created", recipients="reporter", title=lambda ticket, event: 1 / 0)

    with pytest.raises(ZeroDivisionError) as error:
        Ticket.objects.create(reporter=ana, title="Sink")

    assert "notification rule 'testapp.Ticket created' (tests.test_rules:" in error.value.__notes__[0]


# Transactions and sending


def test_the_rows_roll_back_with_the_change_and_nothing_is_sent(people, published, django_capture_on_commit_callbacks):
    ana, bob, _cid = people
    register(Ticket, on="created", recipients="assignee", title="New")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        Ticket.objects.create(reporter=ana, assignee=bob, title="Sink")
        assert len(rows()) == 1  # Stored in the same transaction as the ticket.
        raise RuntimeError("roll back")

    assert (callbacks, rows(), published) == ([], [], [])


def test_one_insert_per_rule_and_the_send_waits_for_the_commit(people, published, django_capture_on_commit_callbacks):
    ana, bob, cid = people
    register(Ticket, on="created", recipients=lambda ticket, event: [ana, bob, cid], title="New")

    with django_capture_on_commit_callbacks() as callbacks, CaptureQueriesContext(connection) as queries:
        Ticket.objects.create(reporter=ana, title="Sink")

    assert len([query for query in queries if query["sql"].startswith(NOTIFICATION_INSERT)]) == 1
    assert published == []
    for callback in callbacks:
        callback()
    (message,) = published
    assert sorted(key for key, _id, _count in message["targets"]) == sorted(
        protocol.user_key(user) for user in (ana, bob, cid)
    )


@pytest.mark.django_db(transaction=True)
async def test_the_recipient_sees_it_live():
    ana, bob = [await sync_to_async(make_user)(name) for name in ("ana", "bob")]
    register(Ticket, on="created", recipients="assignee", sender="reporter", title="{sender} needs you")
    socket = await open_socket(bob)

    ticket = await sync_to_async(Ticket.objects.create)(reporter=ana, assignee=bob, title="Sink")

    frame = json.loads(await socket.receive_from(2))
    assert frame["notification"]["title"] == "ana needs you"
    assert frame["notification"]["url"] == ticket.get_absolute_url()
    await socket.disconnect()


def _rule_queries(member_count):
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"m{member_count}-{i}") for i in range(member_count)]
    )
    project = Project.objects.create(name=f"{member_count} members")
    project.members.set(users)
    with CaptureQueriesContext(connection) as queries:
        project.save()
    inserts = [query for query in queries if query["sql"].startswith(NOTIFICATION_INSERT)]
    assert Notification.objects.filter(title=project.name).count() == member_count
    return len(queries) - len(inserts), len(inserts)


@pytest.mark.django_db(transaction=True)
def test_query_count_does_not_grow_with_the_recipients():
    register(Project, on="updated", recipients=lambda project, event: project.members.all(), title="{instance.name}")
    fields = [field for field in Notification._meta.concrete_fields if not field.primary_key]
    rows_per_insert = connection.ops.bulk_batch_size(fields, [Notification()] * 1000)
    _rule_queries(1)  # Fills the ContentType cache.

    (small, small_inserts), (large, large_inserts) = _rule_queries(10), _rule_queries(1000)

    assert small == large  # UPDATE, SELECT of recipient ids, unread counts after commit.
    assert (small_inserts, large_inserts) == (1, -(-1000 // rows_per_insert))


# Listing


def test_the_command_lists_every_rule(capsys):
    register(Ticket, on="created", recipients="assignee", sender="reporter", notification_type="ticket", title="New")

    @register
    class TicketClosed(TicketRule):
        on = changed("status", new="closed")
        exclude_sender = True
        title = "Closed"

        def when(self, ticket, event):
            return True

    register(Note, on="deleted", recipients=lambda note, event: note.ticket.reporter, title="Gone", target="ticket")

    call_command("live_notify_rules", no_color=True)

    out = capsys.readouterr().out
    blocks = out.split("\n\n")
    assert blocks[0].splitlines() == [
        "testapp.Ticket created",
        "  model:      testapp.Ticket",
        "  on:         created",
        "  recipients: assignee",
        "  type:       ticket",
        "  title:      New",
        "  sender:     reporter",
        "  target:     the instance (none once deleted)",
        "  when:       always",
        f"  defined at: tests.test_rules:{test_the_command_lists_every_rule.__code__.co_firstlineno + 1}",
    ]
    assert "  on:         changed('status', new='closed')" in blocks[1]
    assert "  recipients: reporter (except the sender)" in blocks[1]
    assert "  when:       tests.test_rules.test_the_command_lists_every_rule.<locals>.TicketClosed.when()" in blocks[1]
    assert "  type:       the default type" in blocks[2]
    assert "  recipients: lambda at tests.test_rules:" in blocks[2]
    assert "  target:     ticket" in blocks[2]
    assert out.rstrip().endswith("3 notification rule(s).")


def test_the_command_says_when_there_are_no_rules(capsys):
    call_command("live_notify_rules")

    assert capsys.readouterr().out == "No notification rules are registered.\n"


def test_any_is_the_default_of_changed():
    assert changed("status") == changed("status", old=ANY, new=ANY)
    assert str(changed("status", old="a")) == "changed('status', old='a')"
