"""Ring the matcher from the database: every journalled command notifies
its symbol's channel when the inserting transaction commits. One statement
fewer per order than a separate pg_notify, and no write path can forget it.
PostgreSQL folds identical notifications of one transaction into one."""

from django.db import migrations

CHANNEL = "engine_commands"  # matching.services.NOTIFY_CHANNEL at the time of writing

CREATE = f"""
CREATE OR REPLACE FUNCTION matching_enginecommand_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.symbol_id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER matching_enginecommand_notify
AFTER INSERT ON matching_enginecommand
FOR EACH ROW EXECUTE FUNCTION matching_enginecommand_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS matching_enginecommand_notify ON matching_enginecommand;
DROP FUNCTION IF EXISTS matching_enginecommand_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("matching", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
