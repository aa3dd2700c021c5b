"""Service requests, orders and chats of the home-services demo."""
