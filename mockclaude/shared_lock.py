"""A lock for memory shared by forked processes that survives the death of the process holding it.

A plain multiprocessing.Lock held by a worker that is killed (SIGKILL, the OOM killer) stays held
for ever, and every other process that needs the shared memory then hangs. SharedLock notes its
holder's pid next to the lock, so the supervisor that saw a process die can free a lock that
process held (`recover_all`). Every SharedLock registers itself when it is created, so a store
added later (buckets, turn counters, a prompt cache) is recovered without the supervisor knowing it.

Imports nothing of ours: any layer may use it.
"""

import mmap
import multiprocessing
import os
import struct
import time
import weakref

_PID = struct.Struct("q")
SPIN_TRIES = 200  # non-blocking attempts (~0.3 us each) before a blocking acquire
RECOVER_WAIT_S = 1.0  # how long an unowned, held lock must stay held before it counts as orphaned

_all: "weakref.WeakSet[SharedLock]" = weakref.WeakSet()


class SharedLock:
    """A cross-process lock (inherited by fork) that remembers which process holds it."""

    def __init__(self) -> None:
        self._lock = multiprocessing.get_context("fork").Lock()
        self._holder = mmap.mmap(-1, _PID.size)
        _all.add(self)

    def acquire(self) -> None:
        """Take the lock: spin briefly, then sleep on it. Spinning matters: it is held for ~10 us,
        and a process put to sleep waits for a wake-up that takes far longer on a busy machine
        (measured: with a plain blocking acquire, two workers served fewer requests than one)."""
        lock = self._lock
        for _ in range(SPIN_TRIES):
            if lock.acquire(False):
                break
        else:
            lock.acquire()
        _PID.pack_into(self._holder, 0, os.getpid())

    def release(self) -> None:
        """Give the lock back."""
        _PID.pack_into(self._holder, 0, 0)
        self._lock.release()

    def __enter__(self) -> "SharedLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def holder(self) -> int:
        """The pid that holds the lock (0: nobody, or a holder between taking it and noting its pid)."""
        return _PID.unpack_from(self._holder, 0)[0]

    def recover(self, dead_pid: int) -> bool:
        """Free the lock if `dead_pid` (a process known to be dead) held it; True if it did.

        A process killed between taking the lock and noting its pid (or between clearing it and
        releasing) leaves it held with no holder: a lock that stays so for RECOVER_WAIT_S is freed
        too, since live holders keep it for microseconds.
        """
        deadline = time.monotonic() + RECOVER_WAIT_S
        while True:
            if self._lock.acquire(timeout=0.05):
                self._lock.release()
                return False
            holder = self.holder()
            if holder == dead_pid or (holder == 0 and time.monotonic() > deadline):
                self.release()
                return True
            if time.monotonic() > deadline:
                return False  # a live process holds it: not ours to break


def recover_all(dead_pid: int) -> int:
    """Free every SharedLock of this process tree that `dead_pid` held; how many were freed."""
    return sum(lock.recover(dead_pid) for lock in list(_all))
