"""The database machinery: engine, migrations, the shared table metadata, secrets."""
