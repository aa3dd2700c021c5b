"""An authentication backend with its own get_user(), for the socket authentication tests."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend


class TaggingBackend(BaseBackend):
    """Loads users itself (not through ModelBackend.get_user) and tags the ones it loaded."""

    def get_user(self, user_id):
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is not None:
            user.loaded_by = "TaggingBackend"
        return user
