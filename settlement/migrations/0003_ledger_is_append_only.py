"""The ledger is append-only: the database itself refuses UPDATE and DELETE."""

from django.db import migrations

from core.append_only import allow_changes_sql, forbid_changes_sql


class Migration(migrations.Migration):
    dependencies = [("settlement", "0002_ledgerentry")]

    operations = [
        migrations.RunSQL(forbid_changes_sql("settlement_ledgerentry"), allow_changes_sql("settlement_ledgerentry"))
    ]
