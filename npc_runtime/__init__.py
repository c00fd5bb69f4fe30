"""NPC runtime: a self-hostable conversational character server."""

__version__ = "0.1.0"
