from django.conf import settings
from django.db import models
from model_utils import FieldTracker


class Thing(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self):
        return self.name


# Models the notification rules of tests/test_rules.py watch.


class Project(models.Model):
    name = models.CharField(max_length=50)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")

    def __str__(self):
        return self.name


class Ticket(models.Model):
    """A model with a FieldTracker: changed() rules read it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        CLOSED = "closed", "Closed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True, related_name="tickets")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=Status, default=Status.OPEN)

    tracker = FieldTracker(fields=["status", "assignee"])

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return f"/tickets/{self.pk}/"


class Note(models.Model):
    """A model without a FieldTracker: changed() rules read the stored value with one query per save."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    pinned = models.BooleanField(default=False)

    def __str__(self):
        return self.text
