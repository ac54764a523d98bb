"""Celery: the beat schedule and the tasks that drive the weekly issue in production."""
