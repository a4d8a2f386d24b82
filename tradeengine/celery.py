"""Celery application; tasks live in each app's tasks.py."""

import os

from celery import Celery
from celery.signals import task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeengine.settings")

app = Celery("tradeengine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def replace_unusable_database_connection(task=None, **kwargs) -> None:
    """Before each task, what Django does before each request: close a
    connection that broke or outlived CONN_MAX_AGE (and health-check the kept
    one at first use). Eager tasks run inside the caller's transaction and
    are left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()
