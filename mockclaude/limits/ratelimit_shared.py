"""Rate-limit buckets shared between processes, so N copies of the mock enforce one limit.

- SharedMemoryBucketStore: the workers of one host (`serve --workers N`). MemoryBucketStore's own
  arithmetic, run on one key's cells copied out of an anonymous shared mapping under one lock
  (a SharedLock, so a worker killed while holding it does not stop the others); created before the
  workers fork, which inherit mapping and lock, as a restarted worker does. time.monotonic is one
  clock for every process of a Linux host.
- RedisBucketStore: several hosts (`serve --redis URL`). The same arithmetic in a Lua script that
  Redis runs atomically, on Redis's clock (TIME), because the hosts' monotonic clocks differ.

API keys are stored as BLAKE2 digests, never in clear. Both stores are synchronous, as the
BucketStore protocol is: a shared-memory call takes microseconds, a Redis call one loopback round
trip (~0.1-0.3 ms) during which the worker's event loop waits. A Redis that cannot be reached
raises StoreUnavailable (with short timeouts and no back-off sleeps, which would hold the event
loop); mockclaude.limits.store_guard decides what the limiter does then.
"""

import contextlib
import hashlib
import math
import mmap
import struct
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from mockclaude.limits.ratelimit import _EPS, Bucket, BucketStore, MemoryBucketStore, TakeResult
from mockclaude.shared_lock import SharedLock

# The buckets RateLimiter uses, in the order their cells are laid out in a shared slot.
BUCKET_NAMES = ("requests", "input-tokens", "output-tokens")
_DIGEST = 16
_CELL = struct.Struct("dd")  # level, stamp (NaN stamp: never touched, so full)
_SLOT = _DIGEST + _CELL.size * len(BUCKET_NAMES)
_EMPTY = bytes(_DIGEST)


def key_digest(key: str) -> bytes:
    """The stored identity of an API key."""
    return hashlib.blake2b(key.encode(), digest_size=_DIGEST).digest()


class SharedMemoryBucketStore(MemoryBucketStore):
    """Buckets for up to `slots` API keys in shared memory; every call holds one cross-process lock."""

    def __init__(self, slots: int = 4096) -> None:
        super().__init__()
        self._slots = slots
        self._mem = mmap.mmap(-1, slots * _SLOT)
        self._lock = SharedLock()

    def _offset(self, key: str) -> int:
        """The key's slot (open addressing), claimed on first use."""
        digest = key_digest(key)
        start = int.from_bytes(digest[:8], "little") % self._slots
        for probe in range(self._slots):
            off = (start + probe) % self._slots * _SLOT
            found = self._mem[off : off + _DIGEST]
            if found == digest:
                return off
            if found == _EMPTY:
                self._mem[off : off + _DIGEST] = digest
                for i in range(len(BUCKET_NAMES)):
                    _CELL.pack_into(self._mem, off + _DIGEST + i * _CELL.size, 0.0, math.nan)
                return off
        raise RuntimeError(f"shared rate-limit table is full: more than {self._slots} API keys")

    @contextlib.contextmanager
    def _loaded(self, key: str) -> Iterator[None]:
        """Under the lock, the key's cells as MemoryBucketStore keeps them; written back afterwards."""
        self._lock.acquire()
        try:
            off = self._offset(key)
            cells: dict[str, list[float]] = {}
            for i, name in enumerate(BUCKET_NAMES):
                level, stamp = _CELL.unpack_from(self._mem, off + _DIGEST + i * _CELL.size)
                if not math.isnan(stamp):
                    cells[name] = [level, stamp]
            self._state[key] = cells
            yield
        finally:
            cells = self._state.pop(key, {})
            for name, (level, stamp) in cells.items():
                _CELL.pack_into(self._mem, off + _DIGEST + BUCKET_NAMES.index(name) * _CELL.size, level, stamp)
            self._lock.release()

    def take(self, key: str, buckets: Sequence[Bucket], amounts: Sequence[float], now: float) -> TakeResult:
        """See BucketStore.take."""
        with self._loaded(key):
            return super().take(key, buckets, amounts, now)

    def adjust(self, key: str, bucket: Bucket, delta: float, now: float) -> None:
        """See BucketStore.adjust."""
        with self._loaded(key):
            super().adjust(key, bucket, delta, now)

    def levels(self, key: str, buckets: Sequence[Bucket], now: float) -> list[float]:
        """See BucketStore.levels."""
        with self._loaded(key):
            return super().levels(key, buckets, now)

    def clear(self) -> None:
        """Forget every key: all buckets full again."""
        with self._lock:
            self._mem[:] = bytes(len(self._mem))


# ARGV: op (take|adjust|levels), eps, then per bucket: name, capacity, rate/s, enforced (1|0), amount.
# Returns {admitted (1|0), level...} with levels as strings (Redis would truncate Lua numbers).
_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local op, eps = ARGV[1], tonumber(ARGV[2])
local n = (#ARGV - 2) / 5
local name, cap, rate, enforced, amount, level = {}, {}, {}, {}, {}, {}
for i = 1, n do
  local j = 2 + (i - 1) * 5
  name[i], cap[i], rate[i] = ARGV[j + 1], tonumber(ARGV[j + 2]), tonumber(ARGV[j + 3])
  enforced[i], amount[i] = ARGV[j + 4] == '1', tonumber(ARGV[j + 5])
  local cell = redis.call('HMGET', KEYS[1], name[i] .. ':l', name[i] .. ':t')
  if cell[1] then
    level[i] = math.min(cap[i], tonumber(cell[1]) + math.max(0, now - tonumber(cell[2])) * rate[i])
  else
    level[i] = cap[i]
  end
end
local ok = 1
if op == 'take' then
  for i = 1, n do
    if enforced[i] and level[i] + eps < amount[i] then ok = 0 end
  end
  if ok == 1 then
    for i = 1, n do
      if enforced[i] then level[i] = level[i] - amount[i] end
    end
  end
elseif op == 'adjust' then
  for i = 1, n do
    if enforced[i] then level[i] = math.min(cap[i], level[i] + amount[i]) end
  end
end
local out, ttl = {ok}, 1
for i = 1, n do
  local l = string.format('%.17g', level[i])
  redis.call('HSET', KEYS[1], name[i] .. ':l', l, name[i] .. ':t', string.format('%.17g', now))
  ttl = math.max(ttl, math.ceil((cap[i] - level[i]) / rate[i]) + 1)
  out[i + 1] = l
end
redis.call('EXPIRE', KEYS[1], ttl)
return out
"""


class StoreUnavailable(Exception):
    """The shared store cannot be reached (or refused the command): no answer about the buckets."""


def redis_client(url: str) -> tuple[Any, tuple[type[Exception], ...]]:
    """A client for `--redis URL` that has answered a ping, and the exceptions that mean Redis is away;
    ValueError naming the flag when it cannot be reached now.

    One immediate retry: a pooled connection that died with a restarted Redis fails once, and the
    retry reconnects. No back-off sleeps and short timeouts: every wait here holds the worker's event
    loop; what to do while Redis is away is the caller's business.
    """
    import redis  # optional: only `serve --redis` needs it
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ValueError(f"--redis {public_url(url)}: cannot reach Redis ({exc})") from None
    return client, (redis.RedisError, OSError)


def unlink_all(client: Any, prefix: str) -> int:
    """Delete every key under `prefix:`; how many there were."""
    return sum(client.unlink(name) for name in client.scan_iter(match=f"{prefix}:*", count=500))


def public_url(url: str) -> str:
    """`url` without its password, to name a store in logs and error messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else "***@"
    return urllib.parse.urlunsplit(parts._replace(netloc=user + netloc))


class RedisBucketStore:
    """Buckets in Redis hashes (`PREFIX:<key digest>`), expiring once they would be full again."""

    def __init__(self, url: str, prefix: str = "mockclaude:ratelimit") -> None:
        self.name = public_url(url)
        self._redis, self._errors = redis_client(url)  # an unreachable store is the guard's business
        self._script = self._redis.register_script(_LUA)
        self._prefix = prefix

    def _run(self, op: str, key: str, buckets: Sequence[Bucket], amounts: Sequence[float]) -> TakeResult:
        args: list[str | int] = [op, repr(_EPS)]
        for b, a in zip(buckets, amounts, strict=True):
            args += [b.name, b.capacity, repr(b.rate), 1 if b.enforced else 0, repr(float(a))]
        try:
            ok, *levels = self._script(keys=[f"{self._prefix}:{key_digest(key).hex()}"], args=args)
        except self._errors as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from None
        return ok == 1, [float(x) for x in levels]

    def ping(self) -> None:
        """Raise StoreUnavailable unless Redis answers."""
        try:
            self._redis.ping()
        except self._errors as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from None

    def take(self, key: str, buckets: Sequence[Bucket], amounts: Sequence[float], now: float) -> TakeResult:
        """See BucketStore.take (`now` is ignored: Redis's clock is the one all hosts share)."""
        return self._run("take", key, buckets, amounts)

    def adjust(self, key: str, bucket: Bucket, delta: float, now: float) -> None:
        """See BucketStore.adjust."""
        self._run("adjust", key, [bucket], [delta])

    def levels(self, key: str, buckets: Sequence[Bucket], now: float) -> list[float]:
        """See BucketStore.levels."""
        return self._run("levels", key, buckets, [0.0] * len(buckets))[1]

    def clear(self) -> None:
        """Forget every key under the prefix: all buckets full again."""
        try:
            unlink_all(self._redis, self._prefix)
        except self._errors as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from None


class ClearableStore(BucketStore, Protocol):
    """A shared BucketStore that can forget every key at once."""

    def clear(self) -> None:
        """All buckets full again, for every process sharing them."""
        ...


class SharedStores:
    """What RateLimiter gets as its store when one is shared: the first limiter of a process joins the
    shared buckets as they are; every later one (admin reset, new limits by PATCH) starts them full,
    for every process sharing them, as a fresh in-memory limiter would."""

    def __init__(self, store: ClearableStore) -> None:
        self.store = store
        self._first = True

    def __call__(self) -> BucketStore:
        if self._first:
            self._first = False
        else:
            self.store.clear()
        return self.store
