"""Service requests, the orders they become, and the chats between customers and professionals."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from model_utils import FieldTracker

# Users in this group are the professionals customers can ask for a job.
PROVIDERS_GROUP = "providers"


def is_provider(user) -> bool:
    return user.is_authenticated and user.groups.filter(name=PROVIDERS_GROUP).exists()


class ServiceRequest(models.Model):
    """A customer asking one provider for a job."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_requests")
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_requests",
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("services:request_detail", args=[self.pk])

    def accept(self) -> bool:
        """Accept the pending request: it becomes an order. Return False when it was not pending.

        Call it in a transaction, on a row locked with select_for_update().
        """
        if self.status != self.Status.PENDING:
            return False
        self.status = self.Status.ACCEPTED
        self.save(update_fields=["status"])
        Order.objects.create(service_request=self, customer=self.customer)
        return True


class Order(models.Model):
    """The job a provider took on by accepting a service request."""

    class Status(models.TextChoices):
        PLACED = "placed", "Placed"
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    service_request = models.OneToOneField(ServiceRequest, on_delete=models.CASCADE, related_name="order")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    status = models.CharField(max_length=20, choices=Status, default=Status.PLACED)
    updated = models.DateTimeField(auto_now=True)

    # Remembers the status as loaded, so that the OrderStatusChanged rule (rules.py) can tell a change.
    tracker = FieldTracker(fields=["status"])

    class Meta:
        ordering = ["-updated", "-id"]

    def __str__(self) -> str:
        return f"Order #{self.pk}: {self.service_request}"

    def get_absolute_url(self) -> str:
        return self.service_request.get_absolute_url() + "#order"


class Chat(models.Model):
    """The conversation between one customer and one professional."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_chats")
    professional = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="professional_chats"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "professional"], name="services_chat_unique_pair")]

    def __str__(self) -> str:
        return f"{self.customer} ↔ {self.professional}"

    def get_absolute_url(self) -> str:
        return reverse("services:chat", args=[self.pk])

    def has_participant(self, user) -> bool:
        return user.pk in (self.customer_id, self.professional_id)

    def other_participant(self, user):
        """Return the participant who is not ``user``."""
        return self.professional if user.pk == self.customer_id else self.customer


class Message(models.Model):
    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.sender}: {self.content[:30]}"
