"""Notifications: the outbox, its channels (email, WhatsApp, console) and templates."""
