"""The audit log: written with each operator change, never changed after."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory

from riskadmin.models import AuditLog, UserLimit
from riskadmin.services import record_audit, set_user_limits


def test_limit_change_and_its_audit_row_are_one_transaction(alice, operator, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("audit storage failed")

    monkeypatch.setattr("riskadmin.services.record_audit", broken)
    with pytest.raises(RuntimeError):
        set_user_limits(user_id=alice.id, actor=operator, max_open_orders=3)
    assert not UserLimit.objects.filter(user=alice).exists()


def test_limit_change_records_before_and_after(alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, max_order_size=Decimal("10"))
    set_user_limits(user_id=alice.id, actor=operator, max_order_size=Decimal("20"))
    entry = AuditLog.objects.filter(action="limits.user.set").first()
    assert entry.payload == {"before": {"max_order_size": "10.000000000000000000"}, "after": {"max_order_size": "20"}}


def test_raw_update_of_an_audit_row_is_refused_by_the_database(operator):
    entry = record_audit(actor=operator, action="test", target="x")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE riskadmin_auditlog SET action = 'forged' WHERE id = %s", [entry.id])


def test_raw_delete_of_an_audit_row_is_refused_by_the_database(operator):
    entry = record_audit(actor=operator, action="test", target="x")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM riskadmin_auditlog WHERE id = %s", [entry.id])
    assert AuditLog.objects.filter(id=entry.id).exists()


def test_orm_delete_is_refused_too(operator):
    entry = record_audit(actor=operator, action="test", target="x")
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            AuditLog.objects.filter(id=entry.id).delete()


def test_django_admin_cannot_add_change_or_delete_audit_rows(operator):
    operator.is_superuser = True
    request = RequestFactory().get("/admin/")
    request.user = operator
    admin = site._registry[AuditLog]
    assert not admin.has_add_permission(request)
    assert not admin.has_change_permission(request)
    assert not admin.has_delete_permission(request)
