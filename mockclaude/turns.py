"""Which recording of a request comes next: one counter per distinct recorded request.

`serve --fixtures` answers the k-th arrival of a request with its k-th recording (cycling), as
production answered it. With `--workers N` the counters live in shared memory created before the
workers fork, so the order holds across workers (a 529 then a 200 stays a 529 then a 200 whichever
worker takes each request) and `/_mockclaude/reset` on any worker restarts them for all.
"""

import mmap
import multiprocessing
import struct
from pathlib import Path

_COUNTER = struct.Struct("q")


class LocalTurns:
    """Counters of one process."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def take(self, slot: int) -> int:
        """The turn for this arrival of request `slot` (0, 1, 2, ...)."""
        turn = self._counts.get(slot, 0)
        self._counts[slot] = turn + 1
        return turn

    def clear(self) -> None:
        """Every request starts again from its first recording."""
        self._counts.clear()


class SharedTurns:
    """Counters in anonymous shared memory under one lock, inherited by forked workers."""

    def __init__(self, slots: int) -> None:
        self.slots = max(slots, 1)
        self._mem = mmap.mmap(-1, self.slots * _COUNTER.size)
        self._lock = multiprocessing.get_context("fork").Lock()

    def take(self, slot: int) -> int:
        """The turn for this arrival of request `slot`, counted across all workers."""
        offset = slot * _COUNTER.size
        with self._lock:
            (turn,) = _COUNTER.unpack_from(self._mem, offset)
            _COUNTER.pack_into(self._mem, offset, turn + 1)
        return turn

    def clear(self) -> None:
        """Every request starts again from its first recording, in every worker."""
        with self._lock:
            self._mem[:] = bytes(len(self._mem))


def shared_for(paths: list[str]) -> SharedTurns:
    """Shared counters with room for every exchange in these fixture files (one per line at most)."""
    lines = 0
    for p in paths:
        if Path(p).is_file():  # a missing file is reported by recorded.load, naming its flag
            with Path(p).open("rb") as f:
                lines += sum(1 for _ in f)
    return SharedTurns(lines)


# Set by `serve --workers N --fixtures` in the parent before it forks; None in a single process.
shared: SharedTurns | None = None
