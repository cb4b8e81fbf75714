"""Event store layer: the EventStore port, SQLite and PostgreSQL backends, migrations."""
