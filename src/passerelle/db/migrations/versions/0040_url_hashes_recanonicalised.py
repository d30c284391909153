"""The `url` signals computed before the canonical form changed, computed again.

The canonical form of an address now reads it as a browser does (backslashes, numeric IPv4
hosts) and decodes only escapes of unreserved characters: `C%2B%2B`, `a%2Fb` or `%25` in a
path now keep their escapes, so the same address hashes otherwise than it did. Where the
address is known, its hash is computed again with today's canonical form:

- a bank entry or a withdrawn one, from the address as it was given (`source_value`); an
  entry banked as a bare hash, or whose new hash another entry of its bank already holds,
  is left as it is;
- an item, from the address it was seen at (`items.url`, which was kept canonical: its
  hash then follows the canonical form of that address).

Where entries changed, every agency's match index is made stale (the withdrawals' floor is
raised to a new bank generation), so that each is rebuilt from the database instead of
caught up. Hashes received from partners (their feeds, their holds) cannot be computed
again here: each partner's next feed brings them in the new form once it has upgraded.

Revision ID: 0040
Revises: 0039
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.url import canonicalize_url

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

CHUNK = 5_000

entries = sa.table(
    "bank_entries",
    sa.column("id", sa.String),
    sa.column("bank_id", sa.String),
    sa.column("signal_type", sa.String),
    sa.column("value", sa.Text),
    sa.column("source_value", sa.Text),
)
withdrawals = sa.table(
    "bank_withdrawals",
    sa.column("id", sa.String),
    sa.column("signal_type", sa.String),
    sa.column("value", sa.Text),
    sa.column("source_value", sa.Text),
)
items = sa.table(
    "items", sa.column("id", sa.String), sa.column("url", sa.Text), sa.column("url_hash", sa.Text)
)
banks = sa.table("banks", sa.column("id", sa.String), sa.column("agency_id", sa.String))
generation = sa.table("bank_generation", sa.column("id", sa.Integer), sa.column("generation"))
floors = sa.table("bank_removal_floors", sa.column("agency_id", sa.String), sa.column("generation"))


def url_hash(address: str) -> str | None:
    """The `url` signal of `address` as computed today; None when it is not one any more."""
    try:
        canonical = canonicalize_url(address)
    except InvalidInput:
        return None
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def changed(rows: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """(id, new hash) of the rows (id, hash, address) whose hash is no longer the address's.
    (The canonical form is the code's: this migration is the one that imports it, because
    what it does is compute today's form.)"""
    for row_id, value, address in rows:
        if address:
            new = url_hash(address)
            if new is not None and new != value:
                yield row_id, new


def upgrade() -> None:
    bind = op.get_bind()
    moved_banks = _entries(bind)
    _withdrawals(bind)
    _items(bind)
    if moved_banks:
        _stale_indexes(bind, moved_banks)


def _entries(bind: sa.Connection) -> set[str]:
    found = bind.execute(
        sa.select(entries.c.id, entries.c.bank_id, entries.c.value, entries.c.source_value).where(
            entries.c.signal_type == "url", entries.c.source_value.is_not(None)
        )
    ).all()
    bank_of = {row_id: bank_id for row_id, bank_id, _, _ in found}
    moved: set[str] = set()
    for row_id, new in list(changed((r[0], r[2], r[3]) for r in found)):
        bank_id = bank_of[row_id]
        taken = bind.execute(
            sa.select(entries.c.id).where(
                entries.c.bank_id == bank_id,
                entries.c.signal_type == "url",
                entries.c.value == new,
            )
        ).first()
        if taken is None:  # else the bank already holds the address in today's form
            bind.execute(sa.update(entries).where(entries.c.id == row_id).values(value=new))
            moved.add(bank_id)
    return moved


def _withdrawals(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.select(withdrawals.c.id, withdrawals.c.value, withdrawals.c.source_value).where(
            withdrawals.c.signal_type == "url", withdrawals.c.source_value.is_not(None)
        )
    )
    for row_id, new in list(changed(rows)):
        bind.execute(sa.update(withdrawals).where(withdrawals.c.id == row_id).values(value=new))


def _items(bind: sa.Connection) -> None:
    after = ""
    while True:
        rows = bind.execute(
            sa.select(items.c.id, items.c.url_hash, items.c.url)
            .where(items.c.url.is_not(None), items.c.id > after)
            .order_by(items.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        for row_id, new in list(changed(rows)):
            bind.execute(sa.update(items).where(items.c.id == row_id).values(url_hash=new))
        after = rows[-1][0]


def _stale_indexes(bind: sa.Connection, moved_banks: set[str]) -> None:
    """A new bank generation, and every agency whose banks moved with its withdrawals' floor
    at it: an index on disk older than the floor is rebuilt, never caught up."""
    bind.execute(
        sa.update(generation)
        .where(generation.c.id == 1)
        .values(generation=generation.c.generation + 1)
    )
    new = int(
        bind.execute(sa.select(generation.c.generation).where(generation.c.id == 1)).scalar_one()
    )
    agencies = set(
        bind.execute(sa.select(banks.c.agency_id).where(banks.c.id.in_(moved_banks))).scalars()
    )
    for agency_id in agencies:
        updated = bind.execute(
            sa.update(floors).where(floors.c.agency_id == agency_id).values(generation=new)
        )
        if not updated.rowcount:
            bind.execute(sa.insert(floors).values(agency_id=agency_id, generation=new))


def downgrade() -> None:
    """The hashes are not put back: the old canonical form is no longer in the code."""
