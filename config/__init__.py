"""Typed settings, the Celery app factory and its fixed settings."""
