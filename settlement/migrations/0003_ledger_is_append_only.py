"""The ledger is append-only: the database itself refuses UPDATE and DELETE.

TRUNCATE stays possible: it is a database owner's tool (and how the test
suite resets tables), not something the application can issue.
"""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION settlement_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'settlement_ledgerentry is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER settlement_ledger_append_only
BEFORE UPDATE OR DELETE ON settlement_ledgerentry
FOR EACH ROW EXECUTE FUNCTION settlement_ledger_append_only();
"""

ALLOW = """
DROP TRIGGER IF EXISTS settlement_ledger_append_only ON settlement_ledgerentry;
DROP FUNCTION IF EXISTS settlement_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("settlement", "0002_ledgerentry")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
