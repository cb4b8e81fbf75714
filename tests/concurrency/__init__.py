"""Concurrency tests: real threads and spawned processes on sqlite-file and PostgreSQL."""
