"""A channel layer module that no other test imports: the startup preload test checks that it gets imported."""

from channels.layers import InMemoryChannelLayer


class PreloadedLayer(InMemoryChannelLayer):
    pass
