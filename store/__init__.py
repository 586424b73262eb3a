"""Persistence: schema migrations, the run store and its queue, the event recorder, export."""
