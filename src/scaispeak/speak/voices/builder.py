"""The in-process runner of voice builds (until builds move to the job queue, issue 5).

It wakes when intake kicks it and every ``build_poll_s`` seconds, looks for voices
in ``processing`` that no live process holds, and builds each with
``build_voice_embedding``. Because it polls the database, a voice left ``processing``
by a process that died is resumed once that process's lease runs out, here or in any
other process that runs a builder; a rebuild requested by flipping a row to
``processing`` (an evicted voice being used) is picked up the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from scaispeak.speak.voices.lifecycle import (
    BuildContext,
    build_voice_embedding,
    evict_outdated,
    relabel_current,
    waiting_builds,
)

_log = logging.getLogger(__name__)


class VoiceBuilder:
    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._builds: dict[str, asyncio.Task[object]] = {}
        self._served: dict[str | None, float] = {}
        """When each tenant's last build started here (``_in_turns``)."""

    async def start(self) -> None:
        """Evict embeddings of an older fitter, then start polling (resumes dead builds).

        A process without the cloning engine builds nothing: claiming a build only to
        fail it at once would fail, poll after poll, the voices queued for processes
        that can build them."""
        if self.ctx.fitter is None:
            _log.info("no cloning engine in this process: voice builds are left to others")
            return
        relabelled = await relabel_current(self.ctx, self.ctx.fitter.version)
        if relabelled:
            _log.info("kept %d voice embeddings recorded under an older version name", relabelled)
        evicted = await evict_outdated(self.ctx.db, self.ctx.fitter.version)
        if evicted:
            _log.info("evicted %d voice embeddings built by an older fitter", evicted)
        self._loop_task = asyncio.create_task(self._run(), name="voice-builder")

    def kick(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._builds.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._builds.clear()

    async def drain(self, timeout_s: float = 300.0) -> None:
        """Wait until no build is waiting or running (tests, graceful shutdown)."""
        async with asyncio.timeout(timeout_s):
            while True:
                self.kick()
                await asyncio.sleep(0.05)
                if not self._builds and not await waiting_builds(self.ctx.db):
                    return

    async def _run(self) -> None:
        while True:
            try:
                await self._start_waiting()
            except Exception:
                _log.exception("looking for voice builds failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.ctx.settings.build_poll_s)
            self._wake.clear()

    async def _start_waiting(self) -> None:
        """Start builds up to the threads there are: a build claims its voice, and a
        process that claimed every waiting voice would keep them from other processes
        (and queue them behind each other in its own threads)."""
        free = self.ctx.settings.build_threads - len(self._builds)
        if free <= 0:
            return
        for voice_id, tenant_id in self._in_turns(await waiting_builds(self.ctx.db)):
            if voice_id in self._builds:
                continue
            self._served[tenant_id] = time.monotonic()
            task = asyncio.create_task(self._build(voice_id), name=f"build-{voice_id}")
            self._builds[voice_id] = task
            free -= 1
            if free == 0:
                return

    def _in_turns(self, waiting: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
        """Tenants take turns: the tenant served longest ago (or never) goes first, its
        oldest voice; so a tenant cloning a hundred voices delays another's next voice
        by one build, not a hundred."""
        order = {voice_id: age for age, (voice_id, _tenant) in enumerate(waiting)}
        return sorted(waiting, key=lambda w: (self._served.get(w[1], -math.inf), order[w[0]]))

    async def _build(self, voice_id: str) -> None:
        try:
            await build_voice_embedding(voice_id, ctx=self.ctx)
        except Exception:
            _log.exception("voice %s build crashed", voice_id)
        finally:
            self._builds.pop(voice_id, None)
            self.kick()  # a thread is free: the next waiting voice
