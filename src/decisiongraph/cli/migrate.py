"""``decisiongraph migrate``: create the database if needed and apply pending migrations."""

from __future__ import annotations

from decisiongraph.cli.options import DEFAULT_DATABASE_URL, DbOption, JsonOption
from decisiongraph.cli.output import exit_on_domain_error, write_json, write_stdout
from decisiongraph.cli.stores import opened_store

__all__ = ["migrate_command"]


def migrate_command(db: DbOption = DEFAULT_DATABASE_URL, as_json: JsonOption = False) -> None:
    """Create the database if needed, apply pending migrations, print the schema version.

    Safe to run again, and safe when several processes migrate at once.
    """
    with exit_on_domain_error(), opened_store(db, create=True) as store:
        version = store.migrate()
        url = store.url
    if as_json:
        write_json({"database": url, "schema_version": version})
    else:
        write_stdout(f"Database {url} is at schema version {version}.\n")
