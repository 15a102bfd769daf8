"""What the supervisor of `serve --workers N` and its workers tell each other through shared memory.

The supervisor (the parent) creates the board before it forks; every worker, first or restarted,
inherits it. Each worker keeps its count of responses in flight in its own cell (one writer per
cell, so no lock), which the supervisor reads when that worker dies: those responses are lost.
Restarts and lost responses are counted by the supervisor alone and read by every worker for
/_mockclaude/stats and /metrics, so any worker reports the figures of the whole server. Each worker
also says when it accepts connections, and the supervisor marks it dead when it dies: the others then
accept on its listening socket until its replacement does (server.adoption).
"""

import mmap
import struct
from typing import Any

_CELL = struct.Struct("q")
_RESTARTS, _LOST, _FIRST_WORKER = 0, 1, 2
# A worker's listening state: 0 (the zeroed memory) until it first accepts, then _ACCEPTING; _DEAD
# from its death until its replacement accepts.
_ACCEPTING, _DEAD = 1, 2


class Board:
    """Restarts, lost responses, and each worker's responses in flight and whether it accepts
    connections, in anonymous shared memory."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._mem = mmap.mmap(-1, (_FIRST_WORKER + 2 * workers) * _CELL.size)

    def _get(self, cell: int) -> int:
        return _CELL.unpack_from(self._mem, cell * _CELL.size)[0]

    def _set(self, cell: int, value: int) -> None:
        _CELL.pack_into(self._mem, cell * _CELL.size, value)

    def set_in_flight(self, index: int, n: int) -> None:
        """Worker `index` now has `n` responses in flight (called by that worker only)."""
        self._set(_FIRST_WORKER + index, n)

    def set_accepting(self, index: int) -> None:
        """Worker `index` accepts connections on its listening socket (called by that worker only)."""
        self._set(_FIRST_WORKER + self._workers + index, _ACCEPTING)

    def orphaned(self, index: int) -> bool:
        """Whether worker `index` died and its replacement does not accept connections yet."""
        return self._get(_FIRST_WORKER + self._workers + index) == _DEAD

    def worker_died(self, index: int) -> int:
        """Count a restart of worker `index` and its streams in flight as lost; how many were lost."""
        self._set(_FIRST_WORKER + self._workers + index, _DEAD)
        lost = max(0, self._get(_FIRST_WORKER + index))
        self._set(_FIRST_WORKER + index, 0)
        self._set(_LOST, self._get(_LOST) + lost)
        self._set(_RESTARTS, self._get(_RESTARTS) + 1)
        return lost

    def to_json(self) -> dict[str, int]:
        """The figures as the admin API shows them."""
        return {"worker_restarts": self._get(_RESTARTS), "lost_streams": self._get(_LOST)}


# Set by run_workers in the parent before it forks; None in a single process.
board: Board | None = None
# This process's cell on the board: set in each worker right after the fork.
worker_index: int | None = None


def set_in_flight(n: int) -> None:
    """Publish this worker's responses in flight (nothing to do outside `--workers N`)."""
    if board is not None and worker_index is not None:
        board.set_in_flight(worker_index, n)


def set_accepting() -> None:
    """Say on the board that this worker accepts connections (nothing to do outside `--workers N`)."""
    if board is not None and worker_index is not None:
        board.set_accepting(worker_index)


def to_json() -> dict[str, Any]:
    """The supervisor's figures, or nothing in a single process."""
    return board.to_json() if board is not None else {}
