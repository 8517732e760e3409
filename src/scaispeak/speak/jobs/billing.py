"""What a finished job costs: each backend's price for the characters it spoke.

A job's segments can be spoken by different backends (the first planned one failed
over to the next for some of them), so each checkpoint records how many characters
each backend has served (``characters_by_backend``), across runs of the job. The charge
prices each backend's share at its own rate.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation, ReservationState
from scaispeak.speak.backends.catalog import RELAY
from scaispeak.speak.jobs.models import SynthJob


def served_so_far(job: SynthJob) -> dict[str, int]:
    """Characters per backend that earlier runs spoke (jobs that were checkpointed
    before backends were counted: all by the first planned backend)."""
    if job.characters_by_backend is not None:
        return dict(job.characters_by_backend)
    first = str(job.params["routes"][0]["backend"])
    return {first: job.characters_done} if job.characters_done else {}


def charge(job: SynthJob, served: dict[str, int], seconds: float) -> accounting.Charge:
    """One ledger line for the whole job, named after the backend that spoke most of it.

    The characters billed are the job's characters (what the caller sent), as for
    every request; segments leave out the whitespace between them, so their counts
    are only the split: whatever they leave out is billed with the main backend.
    """
    prices = job.params["prices"]
    served = served or {str(job.params["routes"][0]["backend"]): job.characters_total}
    main = max(served, key=lambda backend: served[backend])
    others = {backend: count for backend, count in served.items() if backend != main}
    main_count = max(0, job.characters_total - sum(others.values()))
    cost = int(prices.get(main, 0)) * main_count + sum(
        int(prices.get(backend, 0)) * count for backend, count in others.items()
    )
    return accounting.Charge(job.voice_id, main, "job", job.characters_total, seconds, cost, job.id)


def relayed_share(job: SynthJob) -> accounting.Charge | None:
    """What a job its caller cancelled owes: the characters the relay has spoken so
    far, which its upstream has billed us for; None when the relay spoke none. (Our
    own engines' unfinished work costs the caller nothing.)"""
    relayed = served_so_far(job).get(RELAY, 0)
    if relayed <= 0:
        return None
    seconds = job.audio_seconds_done * relayed / max(job.characters_done, relayed)
    cost = int(job.params["prices"].get(RELAY, 0)) * relayed
    return accounting.Charge(job.voice_id, RELAY, "job", relayed, seconds, cost, job.id)


async def reservation(session: AsyncSession, job: SynthJob) -> Reservation:
    """The job's hold, as stored, or rebuilt when the tenant had no budget."""
    stored = await session.get(Reservation, job.reservation_id)
    if stored is not None:
        return stored
    # Unbudgeted holds are never stored: rebuild the same (virtual) one by id.
    return Reservation(
        id=job.reservation_id,
        tenant_id=job.tenant_id,
        user_id=job.user_id,
        period_key=accounting.UNBUDGETED,
        amount_micros=0,
        state=ReservationState.held,
        created_at=job.created_at,  # the hold was taken at submission
    )
