"""HiLo id ranges: handed out in-process, reserved in the store, never handed out twice."""

from __future__ import annotations

import threading

from sqla_docstore.backends.embedded.hilo import HiLoRegistry


class FakeStore:
    """Reserves ranges like the store's ``@hilo`` table: max per tag, never going back."""

    def __init__(self) -> None:
        self.max: dict[str, int] = {}
        self.calls: list[tuple[str, int, int]] = []

    def fetch(self, tag: str, capacity: int, at_least: int) -> tuple[int, int]:
        self.calls.append((tag, capacity, at_least))
        low = max(self.max.get(tag, 0), at_least - 1) + 1
        self.max[tag] = low + capacity - 1
        return low, self.max[tag]


def test_ids_come_from_one_range_without_further_calls() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    assert reg.next_ids("users", 3, store.fetch) == [1, 2, 3]
    assert reg.next_ids("users", 2, store.fetch) == [4, 5]
    assert len(store.calls) == 1


def test_tags_are_independent() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    assert reg.next_ids("a", 1, store.fetch) == [1]
    assert reg.next_ids("b", 1, store.fetch) == [1]


def test_a_large_request_gets_a_range_big_enough() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    ids = reg.next_ids("t", 1000, store.fetch)
    assert ids == list(range(1, 1001))
    assert len(store.calls) == 1


def test_one_claimed_id_at_a_time_runs_through_ranges_as_many_do() -> None:
    one, many = (FakeStore(), HiLoRegistry()), (FakeStore(), HiLoRegistry())
    singles = [one[1].next_ids("t", 1, one[0].fetch, claimed=True)[0] for _ in range(100)]
    assert singles == many[1].next_ids("t", 100, many[0].fetch, claimed=True)
    assert singles == list(range(1, 101))
    assert [c[2] for c in one[0].calls] == [1, 33, 97]  # refilled as each range ran out


def test_one_claimed_id_is_not_handed_out_one_unclaimed_is() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    (claimed,) = reg.next_ids("t", 1, store.fetch, claimed=True)
    (handed,) = reg.next_ids("t", 1, store.fetch)
    (after,) = reg.next_ids("t", 1, store.fetch, claimed=True)
    assert (claimed, handed, after) == (1, 2, 3)
    assert reg.claim_many("t", [claimed, handed, after]) == [False, True, False]


def test_quickly_used_ranges_grow() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    reg.next_ids("t", 32, store.fetch)
    reg.next_ids("t", 1, store.fetch)
    reg.next_ids("t", 64, store.fetch)
    capacities = [c[1] for c in store.calls]
    assert capacities[0] == 32 and capacities[1] > capacities[0]


def test_two_registries_on_one_store_never_overlap() -> None:
    store = FakeStore()
    a, b = HiLoRegistry(), HiLoRegistry()
    got = []
    for _ in range(50):
        got += a.next_ids("t", 7, store.fetch)
        got += b.next_ids("t", 5, store.fetch)
    assert len(got) == len(set(got)) == 600


def test_observed_ids_are_skipped() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    reg.next_ids("t", 1, store.fetch)
    reg.observe("t", 500)
    assert reg.next_ids("t", 1, store.fetch) == [501]
    reg.observe("t", 10)  # below what was handed out: no effect
    assert reg.next_ids("t", 1, store.fetch) == [502]


def test_forget_starts_over_from_the_store() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    reg.next_ids("t", 1, store.fetch)
    reg.forget("t")
    assert reg.next_ids("t", 1, store.fetch) == [33]  # the store kept its reserved maximum


def test_threads_get_unique_ids() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    lock = threading.Lock()

    def fetch(tag: str, capacity: int, at_least: int) -> tuple[int, int]:
        with lock:
            return store.fetch(tag, capacity, at_least)

    results: list[list[int]] = [[] for _ in range(8)]

    def work(slot: int) -> None:
        for _ in range(200):
            results[slot] += reg.next_ids("t", 3, fetch)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for r in results for i in r]
    assert len(everything) == len(set(everything)) == 8 * 200 * 3


def test_an_id_handed_out_is_fresh_once() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    ids = reg.next_ids("t", 5, store.fetch)
    assert [reg.claim("t", i) for i in (3, 1, 5)] == [True, True, True]
    assert [reg.claim("t", i) for i in (3, 1, 5)] == [False, False, False]  # used already
    assert reg.claim("t", 2) and reg.claim("t", 4)
    assert not reg.claim("t", 6)  # reserved in the range, but never handed out
    assert not reg.claim("other", ids[0])


def test_an_observed_explicit_id_is_not_fresh() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    reg.observe("t", 7)
    assert reg.next_ids("t", 1, store.fetch) == [8]
    assert not reg.claim("t", 7)
    assert reg.claim("t", 8)


def test_ids_used_out_of_order_keep_a_bounded_record() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    ids = reg.next_ids("t", 2000, store.fetch)
    claimed = [reg.claim("t", i) for i in ids[::2]]  # every other id: the runs split
    assert all(claimed)
    # the oldest runs were forgotten (their ids are then checked against the store)
    assert not reg.claim("t", ids[1]) and reg.claim("t", ids[-1])


def test_ids_handed_out_claimed_are_never_fresh_again() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    taken = reg.next_ids("t", 3, store.fetch, claimed=True)  # an INSERT's generated keys
    assert not any(reg.claim("t", i) for i in taken)  # as if claimed one by one
    later = reg.next_ids("t", 2, store.fetch)
    assert set(later).isdisjoint(taken)
    assert all(reg.claim("t", i) for i in later)


def test_claim_many_claims_each_value_in_order() -> None:
    store, reg = FakeStore(), HiLoRegistry()
    assert reg.claim_many("t", [1, 2]) == [False, False]  # nothing handed out yet
    ids = reg.next_ids("t", 3, store.fetch)
    assert reg.claim_many("t", [ids[1], 999, ids[1], ids[0]]) == [True, False, False, True]
    assert reg.claim_many("t", [ids[2]]) == [True]
    assert reg.claim_many("t", ids) == [False, False, False]  # all used: none is fresh


def test_ids_of_one_call_ascend_across_refills() -> None:
    """A bulk insert takes the first and the last key HiLo gave it as their bounds: the ids
    of one call ascend even where it spans ranges another registry's ranges fall between,
    or an explicit id observed."""
    store = FakeStore()
    a, b = HiLoRegistry(), HiLoRegistry()
    a.next_ids("t", 20, store.fetch)
    b.next_ids("t", 5, store.fetch)
    a.observe("t", 30)
    ids = a.next_ids("t", 300, store.fetch)
    assert len(store.calls) >= 3
    assert ids == sorted(set(ids)) and ids[0] == 31
