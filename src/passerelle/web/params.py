"""Bounds shared by the routes' parameters: nothing a client sends reaches the database out of
the range it stores (a larger integer was a 500); the parameter test holds every route to it."""

from __future__ import annotations

MAX_SQL_INTEGER = 2**63 - 1  # the largest integer SQLite and PostgreSQL (bigint) store
MAX_TIMESTAMP = 2**40  # seconds since 1970: far beyond any link's expiry, within datetime's range
