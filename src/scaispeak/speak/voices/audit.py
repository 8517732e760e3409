"""The voice audit trail: an append-only, hash-chained log of every consent step.

There is one chain per tenant (its id names the chain) for cloned voices, and one
``global`` chain for the platform's own actions (global voices, licences). Each
entry's hash covers its canonical fields and the previous entry's hash, so editing,
removing or reordering any entry breaks every hash after it; ``verify_chain`` finds
the first break. Appends go into the caller's transaction: the entry lands with the
change it records, or neither does. An appender holds its chain until its transaction
ends (``_hold_chain``), so concurrent appenders queue instead of both claiming the
same ``seq``; ``(chain, seq)`` is also unique, so a chain can never fork.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.auth.models import Tenant
from scaispeak.platform.db import utcnow
from scaispeak.speak.voices.models import AuditEntry, aware

GLOBAL_CHAIN = "global"
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of a chain's first entry."""


@dataclass(frozen=True)
class ChainReport:
    chain: str
    entries: int
    intact: bool
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def fingerprint(data: bytes) -> str:
    """SHA-256 of evidence the trail refers to without keeping it (a recording)."""
    return hashlib.sha256(data).hexdigest()


def chain_for(tenant_id: str | None) -> str:
    """The chain a voice's entries go to: its tenant's, or the global one."""
    return tenant_id or GLOBAL_CHAIN


def entry_digest(entry: AuditEntry) -> str:
    """SHA-256 over the canonical JSON of everything an entry says."""
    at = aware(entry.at).astimezone(UTC).replace(tzinfo=None)
    canonical = {
        "chain": entry.chain,
        "seq": entry.seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "action": entry.action,
        "voice_id": entry.voice_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


async def append(
    session: AsyncSession,
    chain: str,
    actor_id: str,
    action: str,
    *,
    voice_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add the next entry of ``chain`` to the session (the caller commits)."""
    await _hold_chain(session, chain)
    # The head alone: without the limit the drivers fetched the whole chain (200,000
    # entries took 4.5 s and 400 MiB, under the chain's lock) for one row.
    head = (
        select(AuditEntry.seq, AuditEntry.entry_hash)
        .where(AuditEntry.chain == chain)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )
    last = (await session.execute(head)).first()
    # Round-trip the details through JSON now, so the hash is computed over exactly
    # what the database will hand back (tuples become lists, and so on).
    clean = json.loads(json.dumps(details or {}))
    entry = AuditEntry(
        chain=chain,
        seq=(last.seq + 1) if last else 1,
        at=utcnow(),
        actor_id=actor_id,
        action=action,
        voice_id=voice_id,
        details=clean,
        prev_hash=last.entry_hash if last else GENESIS_HASH,
    )
    entry.entry_hash = entry_digest(entry)
    session.add(entry)
    await session.flush()
    return entry


async def _hold_chain(session: AsyncSession, chain: str) -> None:
    """Make this transaction the chain's only appender until it ends, so the head read
    next is still the head when the entry is inserted: two appenders that read the same
    head would both claim its ``seq + 1``, and the second would fail (a 500)."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # Transaction-scoped and keyed by chain: other tenants' appenders never wait.
        # Under READ COMMITTED (the default) the head is read after the lock is granted,
        # so it includes the entries of the transaction that held it.
        await session.execute(select(func.pg_advisory_xact_lock(_chain_lock_key(chain))))
        return
    # SQLite has one writer at a time, but pysqlite begins a transaction only at its first
    # write, so a head read before that runs outside it and may be stale by the time the
    # INSERT gets the lock. A write that matches no row takes the lock first.
    await session.execute(
        update(AuditEntry)
        .where(AuditEntry.chain == chain, AuditEntry.seq < 0)
        .values(seq=AuditEntry.seq)
        .execution_options(synchronize_session=False)
    )


def _chain_lock_key(chain: str) -> int:
    """A stable signed 64-bit advisory-lock key for a chain."""
    digest = hashlib.sha256(f"voice_audit:{chain}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def verify_chain(session: AsyncSession, chain: str) -> ChainReport:
    """Recompute every hash of ``chain`` in order; report the first entry that fails.
    Read a page at a time, so a long chain is never held in memory whole."""
    previous, count, after = GENESIS_HASH, 0, None
    while page := await _page_of(session, chain, after):
        for entry in page:
            count += 1
            problem = _entry_problem(entry, count, previous)
            if problem:
                return ChainReport(chain, count, False, previous, entry.seq, problem)
            previous = entry.entry_hash
        after = page[-1].seq
    return ChainReport(chain, count, True, previous)


_VERIFY_PAGE = 1000


async def _page_of(session: AsyncSession, chain: str, after: int | None) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.chain == chain)
    if after is not None:
        stmt = stmt.where(AuditEntry.seq > after)
    stmt = stmt.order_by(AuditEntry.seq).limit(_VERIFY_PAGE)
    return list((await session.execute(stmt)).scalars())


def _entry_problem(entry: AuditEntry, expected_seq: int, previous_hash: str) -> str:
    if entry.seq != expected_seq:
        return f"entry {expected_seq} is missing (found {entry.seq})"
    if entry.prev_hash != previous_hash:
        return "the link to the previous entry is broken"
    if entry_digest(entry) != entry.entry_hash:
        return "the entry was altered after it was written"
    return ""


async def entries_for_voice(
    session: AsyncSession,
    chain: str,
    voice_id: str,
    limit: int,
    challenge_id: str | None = None,
    after_seq: int = 0,
) -> list[AuditEntry]:
    """The voice's entries after ``after_seq``, oldest first, and those of the consent
    challenge it was cloned under: the challenge's issue and the intake's checks
    (scores and clip digests) are written before the voice exists, so they name the
    challenge, not the voice."""
    about = AuditEntry.voice_id == voice_id
    if challenge_id is not None:
        about = or_(about, AuditEntry.details["challenge_id"].as_string() == challenge_id)
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.chain == chain, about, AuditEntry.seq > after_seq)
        .order_by(AuditEntry.seq)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def is_chain(session: AsyncSession, chain: str) -> bool:
    """Whether ``chain`` names one: ``global`` or a tenant's id. A misspelt one has no
    entries, which verify as "intact": callers refuse it instead."""
    return chain == GLOBAL_CHAIN or await session.get(Tenant, chain) is not None


async def verify_chains(
    session: AsyncSession, chains: list[str] | None = None
) -> list[ChainReport]:
    """Verify the named chains, or every chain there is (``scaispeak admin verify-audit``)."""
    if not chains:
        found = await session.execute(
            select(AuditEntry.chain).distinct().order_by(AuditEntry.chain)
        )
        chains = list(found.scalars())
    return [await verify_chain(session, chain) for chain in chains]
