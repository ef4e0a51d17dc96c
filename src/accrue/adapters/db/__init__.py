"""SQLAlchemy persistence: tables, engine, unit of work and repositories."""
