"""The audit log is append-only: the database itself refuses UPDATE and DELETE."""

from django.db import migrations

from core.append_only import allow_changes_sql, forbid_changes_sql


class Migration(migrations.Migration):
    dependencies = [("riskadmin", "0002_limits_totp_audit")]

    operations = [
        migrations.RunSQL(forbid_changes_sql("riskadmin_auditlog"), allow_changes_sql("riskadmin_auditlog"))
    ]
