"""The example project: a home-services demo of django-live-notify."""
