"""Where prompt-cache entries live: a bounded table (in this process, or in shared memory for
`serve --workers N`), or Redis for several hosts (`serve --redis`).

An entry is a prefix hash (16 bytes, already scoped to an API key and model: no prompt text and no
key is stored), when it expires, when it becomes readable, and its TTL (a hit restarts the TTL).

CacheTable's memory is fixed when it is made: `entries` slots of 40 bytes (the default 131,072
entries take 5 MiB), in sets of 8. A new entry takes a free or expired slot of its set, else the
one that expires soonest: eviction before expiry happens only when a set is full.
"""

import array
import contextlib
import logging
import math
import mmap
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from mockclaude.limits.ratelimit_shared import public_url, redis_client, unlink_all
from mockclaude.shared_lock import SharedLock

log = logging.getLogger("mockclaude.limits")

DEFAULT_ENTRIES = 131_072
AWAY_RETRY_S = 0.5
WAYS = 8
_SLOT = struct.Struct("<16sddd")  # key, expires, ready, ttl (all zero: free)


class CacheTable:
    """A CacheStore of fixed size; `shared=True` puts it in memory that forked workers inherit."""

    def __init__(
        self, entries: int = DEFAULT_ENTRIES, *, shared: bool = False, clock: Callable[[], float] = time.monotonic
    ):
        if entries < WAYS:
            raise ValueError(f"--prompt-cache-entries {entries}: needs at least {WAYS}")
        self._sets = math.ceil(entries / WAYS)
        self.capacity = self._sets * WAYS
        size = self.capacity * _SLOT.size
        self._mem: Any = mmap.mmap(-1, size) if shared else bytearray(size)
        # A SharedLock: a worker killed while holding it does not stop the others (the supervisor frees it).
        self._lock = SharedLock() if shared else None
        self._clock = clock
        self.kind = "shared memory" if shared else "memory"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._lock is None:
            yield
            return
        with self._lock:
            yield

    def _set(self, key: bytes) -> int:
        return int.from_bytes(key[:8], "little") % self._sets * WAYS * _SLOT.size

    def _find(self, key: bytes) -> int:
        """The offset of the key's slot, or -1."""
        start = self._set(key)
        end = start + WAYS * _SLOT.size
        at = self._mem.find(key, start, end)
        while at != -1 and (at - start) % _SLOT.size:  # the bytes matched across fields, not a key
            at = self._mem.find(key, at + 1, end)
        return at

    def present(self, keys: Sequence[bytes]) -> list[bool]:
        """See CacheStore.present."""
        with self._locked():
            now = self._clock()
            out = []
            for key in keys:
                at = self._find(key)
                if at < 0:
                    out.append(False)
                    continue
                _, expires, ready, _ = _SLOT.unpack_from(self._mem, at)
                out.append(ready <= now < expires)
            return out

    def commit(self, writes: Sequence[tuple[bytes, float]], refreshes: Sequence[bytes], ready_in_s: float) -> None:
        """See CacheStore.commit."""
        with self._locked():
            now = self._clock()
            for key in refreshes:
                at = self._find(key)
                if at >= 0:
                    _, expires, ready, ttl = _SLOT.unpack_from(self._mem, at)
                    if expires > now:
                        _SLOT.pack_into(self._mem, at, key, max(expires, now + ttl), ready, ttl)
            for key, ttl in writes:
                ready = now + ready_in_s
                at = self._find(key)
                if at >= 0:
                    _, old_expires, old_ready, old_ttl = _SLOT.unpack_from(self._mem, at)
                    if old_expires > now:  # a live entry (a concurrent writer's): keep the earlier readiness
                        ready, ttl = min(ready, old_ready), max(ttl, old_ttl)
                else:
                    at = self._victim(key, now)
                _SLOT.pack_into(self._mem, at, key, now + ttl, ready, ttl)

    def _victim(self, key: bytes, now: float) -> int:
        """A free or expired slot of the key's set, else the one that expires soonest."""
        start = self._set(key)
        best, best_expires = start, math.inf
        for at in range(start, start + WAYS * _SLOT.size, _SLOT.size):
            expires = _SLOT.unpack_from(self._mem, at)[1]
            if expires <= now:
                return at
            if expires < best_expires:
                best, best_expires = at, expires
        return best

    def entries(self) -> int:
        """See CacheStore.entries."""
        with self._locked():
            now, snapshot = self._clock(), bytes(self._mem)
        # The expiry of every slot (the third double of each 40-byte slot; free slots hold 0). A scan of
        # the default table takes ~15 ms: callers keep it off the event loop.
        return sum(map(now.__lt__, array.array("d", snapshot)[2 :: _SLOT.size // 8]))

    def clear(self) -> int:
        """See CacheStore.clear."""
        live = self.entries()
        with self._locked():
            self._mem[:] = bytes(len(self._mem))
        return live


# Values are "ready ttl" on Redis's clock (TIME), so hosts with different clocks agree; Redis expires
# the keys. present: KEYS = entry keys, returns 1/0 each. commit: KEYS = the written keys, then the
# refreshed ones; ARGV = ready_in_s, the number of writes, then each write's TTL in seconds.
_LUA_PRESENT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  out[i] = 0
  if v and tonumber(string.match(v, '^(%S+)')) <= now then out[i] = 1 end
end
return out
"""
_LUA_COMMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ready_in, n_writes = tonumber(ARGV[1]), tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  local ready, ttl
  if v then
    local r, l = string.match(v, '^(%S+) (%S+)$')
    ready, ttl = tonumber(r), tonumber(l)
  end
  if i <= n_writes then
    local new_ttl = tonumber(ARGV[2 + i])
    if v then
      ready, ttl = math.min(ready, now + ready_in), math.max(ttl, new_ttl)
    else
      ready, ttl = now + ready_in, new_ttl
    end
  end
  if ready then
    local px = math.max(1, math.ceil(ttl * 1000))
    local rest = redis.call('PTTL', key)
    if rest > px then px = rest end
    redis.call('SET', key, string.format('%.17g %.17g', ready, ttl), 'PX', px)
  end
end
return 1
"""


class RedisCacheStore:
    """Entries as Redis strings (`PREFIX:<hash>`) that expire with their TTL; bounded by Redis's
    own `maxmemory` (each entry takes about 100 bytes).

    While Redis cannot be reached the cache is empty for everyone (reads miss, writes are dropped):
    one log line when it goes away and one when it is back, never an error for a client, and for
    AWAY_RETRY_S after a failure requests do not try it (no timeout per request).
    """

    kind = "redis"
    capacity = None

    def __init__(self, url: str, prefix: str = "mockclaude:prompt-cache") -> None:
        self.name = public_url(url)
        self._redis, self._errors = redis_client(url)
        self._present = self._redis.register_script(_LUA_PRESENT)
        self._commit = self._redis.register_script(_LUA_COMMIT)
        self._prefix = prefix
        self._away_until: float | None = None  # monotonic; None while Redis answers

    def _call[T](self, op: Callable[[], T], away: T) -> T:
        """`op()`, or `away` while Redis cannot be reached."""
        now = time.monotonic()
        if self._away_until is not None and now < self._away_until:
            return away
        try:
            result = op()
        except self._errors as exc:
            if self._away_until is None:
                log.warning(
                    "prompt cache: Redis %s unreachable (%s); answering uncached until it is back", self.name, exc
                )
            self._away_until = now + AWAY_RETRY_S
            return away
        if self._away_until is not None:
            log.warning("prompt cache: Redis %s is back", self.name)
            self._away_until = None
        return result

    def _keys(self, keys: Sequence[bytes]) -> list[str]:
        return [f"{self._prefix}:{k.hex()}" for k in keys]

    def present(self, keys: Sequence[bytes]) -> list[bool]:
        """See CacheStore.present."""
        if not keys:
            return []
        return self._call(lambda: [x == 1 for x in self._present(keys=self._keys(keys))], [False] * len(keys))

    def commit(self, writes: Sequence[tuple[bytes, float]], refreshes: Sequence[bytes], ready_in_s: float) -> None:
        """See CacheStore.commit."""
        if not writes and not refreshes:
            return
        keys = self._keys([k for k, _ in writes] + list(refreshes))
        args = [repr(ready_in_s), len(writes), *(repr(ttl) for _, ttl in writes)]
        self._call(lambda: self._commit(keys=keys, args=args), None)

    def entries(self) -> int:
        """See CacheStore.entries."""
        return self._call(lambda: sum(1 for _ in self._redis.scan_iter(match=f"{self._prefix}:*", count=500)), 0)

    def clear(self) -> int:
        """See CacheStore.clear."""
        return self._call(lambda: unlink_all(self._redis, self._prefix), 0)


# The store a server gets when none is shared: `serve --workers/--redis` installs one before the
# workers fork (mockclaude.server.command), as for the rate-limit buckets.
shared: CacheTable | RedisCacheStore | None = None
