"""What was kept lately, bounded by the total length of the keys (and a cost per entry): the oldest go first."""

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sized
from contextlib import AbstractContextManager
from typing import Any, Protocol

import orjson


def own_size(data: bytes) -> bytes:
    """A copy of `data` that holds only its own bytes, for bytes kept a while (a store's key, a payload,
    an answer waiting to be sent): orjson's output reserves far more than its length (orjson 3.13,
    measured: 108 bytes hold 4.4 KB, 5 KB hold 65 KB, 100 KB hold 1 MB), which kept bytes would hold
    on to, unseen by any bound on key lengths."""
    return b"%b" % data  # copies to its exact size (bytes(data) returns data itself)


class Key(Hashable, Sized, Protocol):
    """A key that has a length (a text's characters, a body's bytes): what the bound counts."""


# What an entry costs besides its key's length: the key object's header, the dict slot and its order
# link, and a small value (measured: 100-130 bytes with an int value, 270 with validation's 7-field
# tuple). Stores of many small keys count it, so that their bound stays near their memory.
ENTRY_BYTES = 200


class Recent[K: Key, V]:
    """Entries kept lately, within `held` units all together: each entry's key length plus
    `entry_bytes`; a key longer than `largest` is never kept (and never looked up, so that it is not
    hashed for nothing)."""

    def __init__(self, held: int, largest: int | None = None, entry_bytes: int = 0) -> None:
        self.held = held
        self.entry_bytes = entry_bytes
        room = held - entry_bytes  # the longest key one entry can have within `held`
        self.largest = room if largest is None else min(largest, room)
        self.size = 0  # the keys' lengths and the entries' costs, all together
        # An OrderedDict: the oldest leaves in O(1), where a dict's deleted first entries are scanned
        # past by every later next(iter(...)) until it is resized (~11 us an eviction at 100,000
        # entries, measured).
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        """The value kept for `key`, if any."""
        return self._entries.get(key) if len(key) <= self.largest else None

    def keep(self, key: K, value: V) -> None:
        """Keep `value` for `key` as the newest entry; the oldest make room."""
        if len(key) > self.largest:
            return
        n = len(key) + self.entry_bytes
        if key in self._entries:
            del self._entries[key]
            self.size -= n
        while self._entries and self.size + n > self.held:
            oldest, _ = self._entries.popitem(last=False)
            self.size -= len(oldest) + self.entry_bytes
        self._entries[key] = value
        self.size += n


def remembered[V](
    kept: Recent[Any, V],
    value: Any,
    compute: Callable[..., V],
    *args: Any,
    option: int = 0,
    lock: AbstractContextManager[Any] | None = None,
) -> V:
    """`compute(*args)`, what `value` gives, remembered in `kept` under `value`'s JSON (orjson's bytes
    with `option`, kept at their own size); `lock` guards the keep of a store that threads write too.

    What orjson cannot write (integers past 64 bits) is computed every time. A `compute` that raises
    keeps nothing. orjson writes NaN and the infinities as null, so a value holding one shares its key
    with the same value holding null; JSON parsed by the server never holds them.
    """
    try:
        key = orjson.dumps(value, option=option)
    except TypeError:
        return compute(*args)
    found = kept.get(key)
    if found is None:
        found = compute(*args)
        if lock is None:
            kept.keep(own_size(key), found)
        else:
            with lock:
                kept.keep(own_size(key), found)
    return found
