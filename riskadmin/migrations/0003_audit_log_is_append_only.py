"""The audit log is append-only: the database itself refuses UPDATE and DELETE.

TRUNCATE stays possible: it is a database owner's tool (and how the test
suite resets tables), not something the application can issue.
"""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION riskadmin_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'riskadmin_auditlog is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER riskadmin_auditlog_append_only
BEFORE UPDATE OR DELETE ON riskadmin_auditlog
FOR EACH ROW EXECUTE FUNCTION riskadmin_auditlog_append_only();
"""

ALLOW = """
DROP TRIGGER IF EXISTS riskadmin_auditlog_append_only ON riskadmin_auditlog;
DROP FUNCTION IF EXISTS riskadmin_auditlog_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("riskadmin", "0002_limits_totp_audit")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
