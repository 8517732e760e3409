"""A stopped job's checkpoints (thousands, for a long job) are deleted several at a
time, and to the end even when the request deleting them is cancelled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from scaispeak.platform.storage.local import LocalBlobStore
from scaispeak.speak.jobs.assembly import discard_checkpoints, segment_key
from tests.support.polling import until

SEGMENTS = 100


class SlowDeletes(LocalBlobStore):
    """Each delete takes 10 ms, as a request to S3 might; records how many overlap."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.running = self.most = 0

    async def delete(self, key: str) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.01)
            await super().delete(key)
        finally:
            self.running -= 1


async def test_checkpoints_are_deleted_to_the_end_after_their_caller_gives_up(
    tmp_path: Path,
) -> None:
    storage = SlowDeletes(tmp_path)
    keys = [segment_key("job_x", index) for index in range(SEGMENTS)]
    for key in keys:
        await storage.put_bytes(key, b"RIFF")
    caller = asyncio.create_task(discard_checkpoints(storage, "job_x", SEGMENTS))
    await asyncio.sleep(0.03)
    caller.cancel()  # the client gave up on its DELETE

    async def all_gone() -> bool:
        return not any([await storage.exists(key) for key in keys])

    await until(all_gone, "every checkpoint deleted", seconds=10)
    assert storage.most > 1
