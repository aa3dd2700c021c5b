"""Create the demo users, a chat and a few notifications; safe to run again."""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from django_live_notify import notify
from django_live_notify.models import Notification
from example_project.services.models import PROVIDERS_GROUP, Chat, Message

PASSWORD = "demo12345"
WELCOME_TITLE = "Welcome to the home-services demo"

# username: (first name, last name, role, is provider, is staff)
USERS = {
    "ana": ("Ana", "Lima", "customer", False, False),
    "bruno": ("Bruno", "Costa", "provider", True, False),
    "carla": ("Carla", "Souza", "provider", True, False),
    "admin": ("Admin", "", "staff and superuser: System broadcast on the dashboard, /admin/", False, True),
}


class Command(BaseCommand):
    help = "Create the demo users (password demo12345), a chat between ana and bruno, and sample notifications."

    def handle(self, *args, **options):
        with transaction.atomic():
            users = self.create_users()
            self.create_chat(users["ana"], users["bruno"])
            self.welcome(users.values())
        self.print_guide()

    def create_users(self):
        """Create or reset the demo users, so that the guide's passwords always work."""
        providers, _created = Group.objects.get_or_create(name=PROVIDERS_GROUP)
        # Hashing is slow on purpose: hash the shared demo password once, not once per user.
        password_hash = make_password(PASSWORD)
        users = {}
        for username, (first_name, last_name, _role, is_provider, is_staff) in USERS.items():
            user, _created = get_user_model().objects.get_or_create(username=username)
            user.first_name = first_name
            user.last_name = last_name
            user.email = f"{username}@example.com"
            user.is_active = True
            user.is_staff = user.is_superuser = is_staff
            user.password = password_hash
            user.save()
            if is_provider:
                user.groups.add(providers)
            users[username] = user
        return users

    def create_chat(self, customer, professional):
        """Open the ana-bruno chat with one message; a rule notifies ana."""
        chat, _created = Chat.objects.get_or_create(customer=customer, professional=professional)
        if not chat.messages.exists():
            Message.objects.create(
                chat=chat, sender=professional, content="Hi Ana! I'm Bruno, a plumber. Tell me what needs fixing."
            )

    def welcome(self, users):
        """Send one "system" notification to every demo user who has not had it yet."""
        already = set(Notification.objects.filter(title=WELCOME_TITLE).values_list("recipient_id", flat=True))
        recipients = [user for user in users if user.pk not in already]
        if recipients:
            notify(
                recipients,
                notification_type="system",
                title=WELCOME_TITLE,
                message="Notifications appear here live: open two windows and try it.",
                url=reverse("services:dashboard"),
            )

    def print_guide(self):
        lines = ["Demo data ready. Every password is demo12345:"]
        lines += [f"  {username:<6} {role}" for username, (_first, _last, role, _p, _s) in USERS.items()]
        lines += [
            "",
            "Start the server (python example_project/manage.py runserver) and open http://127.0.0.1:8000/.",
            "Log in as ana / demo12345 in one window and bruno / demo12345 in another (private window), "
            "then create a service request as ana: bruno gets it at once, with a toast and the unread badge.",
            "Then, as bruno, accept it and move the order along (ana is notified), or chat with each other; "
            "log in as admin to send a system broadcast to everyone.",
        ]
        self.stdout.write("\n".join(lines))
