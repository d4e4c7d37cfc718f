"""HiLo id generation: ranges reserved in the store, handed out in-process without a round trip."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: fetch(tag, capacity, at_least) -> (low, high): reserve ids low..high in the store.
RangeFetcher = Callable[[str, int, int], tuple[int, int]]

_MIN_CAPACITY = 32
_MAX_CAPACITY = 1024 * 1024
#: an explicit id above this leaves the store's HiLo state as it is: no range fits above it
#: (SQLite, its largest rowid taken, picks unused rowids at random)
RAISES_UP_TO = 2**63 - 1 - _MAX_CAPACITY
_MAX_HANDED_OUT = 256  # ranges of handed-out ids remembered per tag (older ones are forgotten)


class _Generator:
    def __init__(self) -> None:
        self.next = 1
        self.high = 0
        self.capacity = _MIN_CAPACITY
        self.fetched_at = 0.0
        #: the end of the last range the store reserved for this process (``high`` may be
        #: moved past it by ``observe``; the store knows only this one)
        self.reserved = 0
        self.lock = threading.Lock()
        #: (first, last) of the ids handed out, in order; contiguous runs merged
        self.handed_out: list[tuple[int, int]] = []

    def hand_out(self, first: int, last: int) -> None:
        runs = self.handed_out
        if runs and runs[-1][1] + 1 == first:
            runs[-1] = (runs[-1][0], last)
            return
        runs.append((first, last))
        if len(runs) > _MAX_HANDED_OUT:
            del runs[0]  # its ids are no longer known fresh: a write checks the store

    def claim(self, value: int) -> bool:
        runs = self.handed_out
        for pos in range(len(runs) - 1, -1, -1):
            first, last = runs[pos]
            if first == value:  # ids used in the order handed out: the run just shrinks
                if value < last:
                    runs[pos] = (value + 1, last)
                else:
                    del runs[pos]
                return True
            if first < value <= last:
                runs[pos:pos + 1] = [r for r in ((first, value - 1), (value + 1, last))
                                     if r[0] <= r[1]]
                if len(runs) > _MAX_HANDED_OUT:  # ids used out of order split the runs
                    del runs[0]
                return True
        return False


class HiLoRegistry:
    """One generator per tag (collection), shared by every connection of a store in a process."""

    def __init__(self) -> None:
        self._generators: dict[str, _Generator] = {}
        self._lock = threading.Lock()

    def _generator(self, tag: str) -> _Generator:
        gen = self._generators.get(tag)
        if gen is None:
            with self._lock:
                gen = self._generators.setdefault(tag, _Generator())
        return gen

    def next_ids(self, tag: str, count: int, fetch: RangeFetcher, *,
                 claimed: bool = False) -> list[int]:
        """``count`` fresh ids, in ascending order (each range fetched lies above the last
        one: ``fetch`` reserves at least ``high + 1``); calls ``fetch`` only when the reserved
        range runs out.
        ``claimed``: the caller uses them at once (an INSERT's generated keys), so they are
        not remembered as handed out (as if ``claim`` had taken each)."""
        gen = self._generator(tag)
        out: list[int] = []
        with gen.lock:
            if claimed and count == 1 and gen.next <= gen.high:
                out.append(gen.next)  # (the loop's one turn for one id in the range)
                gen.next += 1
                return out
            while len(out) < count:
                if gen.next > gen.high:
                    self._refill(gen, tag, count - len(out), fetch)
                take = min(count - len(out), gen.high - gen.next + 1)
                out.extend(range(gen.next, gen.next + take))
                if not claimed:
                    gen.hand_out(gen.next, gen.next + take - 1)
                gen.next += take
        return out

    def claim(self, tag: str, value: int) -> bool:
        """Whether ``value`` is an id this process handed out for ``tag`` and nobody used
        yet; it counts as used from now on. Such an id is fresh: no stored document can hold
        it (unless another client wrote it explicitly)."""
        return self.claim_many(tag, [value])[0]

    def claim_many(self, tag: str, values: list[int]) -> list[bool]:
        """``claim`` of each value, in order."""
        gen = self._generators.get(tag)
        if gen is None:
            return [False] * len(values)
        with gen.lock:
            if not gen.handed_out:  # nothing handed out is unused: no value is fresh
                return [False] * len(values)
            return [gen.claim(value) for value in values]

    def _refill(self, gen: _Generator, tag: str, wanted: int, fetch: RangeFetcher) -> None:
        now = time.monotonic()
        # RavenDB's policy: a range used up quickly doubles the next one.
        if gen.fetched_at and now - gen.fetched_at < 30:
            gen.capacity = min(gen.capacity * 2, _MAX_CAPACITY)
        elif gen.fetched_at and now - gen.fetched_at > 60:
            gen.capacity = max(gen.capacity // 2, _MIN_CAPACITY)
        capacity = gen.capacity = min(max(gen.capacity, wanted), _MAX_CAPACITY)
        low, high = fetch(tag, capacity, gen.high + 1)
        gen.next, gen.high, gen.fetched_at = low, high, now
        gen.reserved = max(gen.reserved, high)

    def observe(self, tag: str, used: int) -> None:
        """An explicit id was written: never hand it out later from this process."""
        gen = self._generator(tag)
        with gen.lock:
            if gen.next <= used:
                gen.next = used + 1
                if gen.next > gen.high:
                    gen.high = gen.next - 1  # forces a refill that starts above ``used``

    def reserved(self, tag: str) -> int:
        """The end of the last range the store reserved for ``tag`` in this process: the
        store hands out no id up to it again (0: none reserved yet)."""
        gen = self._generators.get(tag)
        return 0 if gen is None else gen.reserved

    def reserve_above(self, tag: str, used: int, fetch: RangeFetcher) -> None:
        """Reserve a range above ``used`` in the store now (a collection's ids took a new
        prefix: the store must know the keys in use before another client asks)."""
        self.forget(tag)
        self.observe(tag, used)
        gen = self._generator(tag)
        with gen.lock:
            self._refill(gen, tag, 1, fetch)

    def take_unused(self) -> list[tuple[str, int, int]]:
        """(tag, end of range, last id used) of every range not used up; they are forgotten,
        so a server can take them back (RavenDB's ``/hilo/return`` on close)."""
        out = []
        with self._lock:
            for tag, gen in list(self._generators.items()):
                with gen.lock:
                    if gen.high and gen.next <= gen.high:
                        out.append((tag, gen.high, gen.next - 1))
                del self._generators[tag]
        return out

    def forget(self, tag: str) -> None:
        with self._lock:
            self._generators.pop(tag, None)

    def forget_all(self) -> None:
        """Drop every range (their unused ids are skipped): the store's catalog changed
        elsewhere, and a collection may have started its ids over."""
        with self._lock:
            self._generators.clear()
