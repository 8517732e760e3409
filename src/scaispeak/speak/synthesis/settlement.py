"""The last step of a batch request: assemble the made speech and settle its charge,
and, for ``save_to``, land the clip in the caller's share in the same commit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession

from scaispeak.platform.accounting import service as accounting
from scaispeak.platform.accounting.models import Reservation
from scaispeak.speak.synthesis.audio import ARITHMETIC_FORMATS
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import MadeSpeech, SpokenClip

Keeper = Callable[[SpokenClip], AbstractAsyncContextManager[object]]
"""Stages a whole clip where the caller asked (``save_to``), raising when it cannot; the
clip lands with what the block commits (its charge), or not at all."""


async def assemble_and_settle(
    session: AsyncSession,
    pipeline: SynthesisPipeline,
    made: MadeSpeech,
    reservation: Reservation,
    charge: accounting.Charge,
    keep: Keeper | None = None,
) -> SpokenClip:
    """Encode the made speech and settle its charge, before the response.

    Where what is left is plain arithmetic (joining levelled segments, then pcm, wav
    or mu-law: it cannot fail on made speech), the settlement's database work runs
    while the clip is assembled in its thread (0.3–0.5 ms measured: the thread starts
    only when the settlement's Python yields the GIL; docs/benchmarks.md). A codec (mp3,
    opus, flac) can fail, and so can levelling and marking a relayed clip's segments
    (a neural watermark), and a failed request is never charged, so those assemble
    first; so does a clip to ``keep``, staged at its destination and landing there in
    the settlement's commit.
    """
    arithmetic = made.levelled and made.spec.format in ARITHMETIC_FORMATS
    if keep is not None or not arithmetic:
        try:
            clip = await pipeline.assemble(made)
        except BaseException:
            await accounting.release(session, reservation)
            raise
        if keep is None:
            await accounting.settle_or_release(session, reservation, charge)
        else:
            await _keep_and_settle(session, keep(clip), reservation, charge)
        return clip
    # Both run to the end before anything is raised, so nothing is left running on
    # the session. A failed settlement gives its hold back before it raises (the
    # request fails unbilled), rather than leaving it to the stale-hold sweep.
    assembled, settled = await asyncio.gather(
        pipeline.assemble(made),
        accounting.settle_or_release(session, reservation, charge),
        return_exceptions=True,
    )
    for outcome in (settled, assembled):
        if isinstance(outcome, BaseException):
            raise outcome
    assert isinstance(assembled, SpokenClip)
    return assembled


async def _keep_and_settle(
    session: AsyncSession,
    kept: AbstractAsyncContextManager[object],
    reservation: Reservation,
    charge: accounting.Charge,
) -> None:
    """The clip's file and its charge land in one commit: a write that fails (a path
    taken meanwhile) costs nothing, and a settlement that fails leaves no file."""
    held = reservation.id  # read now: a failed flush leaves the instance unreadable
    try:
        async with kept:
            await accounting.settle(session, reservation, charge)
    except BaseException:
        await accounting.release_after_failure(session, reservation, held)
        raise
