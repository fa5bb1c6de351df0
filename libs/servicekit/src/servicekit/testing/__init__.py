"""Test support: real PostgreSQL and a real broker per test session, migrated databases, tokens."""
