"""A memory store's overlay temp tables under threads.

All connections of a memory store share one sqlite3 connection. A temp table created while
another thread's commit has a transaction open on it becomes part of that transaction, and a
rollback (a commit that fails on a duplicate key) drops it again: the overlay must be created
under the store lock, so a reader of its own pending rows never finds its table gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqla_docstore import dbapi
from sqla_docstore.backends.embedded.store import EmbeddedStore

SPEC = '{"fields": [{"name": "id", "type": "INTEGER"}, {"name": "v"}], "primary_key": ["id"]}'
# v is unique: with unique_checks="commit" a taken v fails only when the commit's batch is
# applied (a taken key fails at the INSERT already)
UNIQUE_SPEC = SPEC[:-1] + ', "unique": [["v"]]}'
SECONDS = 4.0


def _failing_commits(store: EmbeddedStore, stop: threading.Event) -> int:
    """Commits that insert many rows and then fail on the last (a taken v): rollbacks."""
    conn = dbapi.connect(store=store, unique_checks="commit")
    cur = conn.cursor()
    done = 0
    while not stop.is_set():
        cur.executemany("INSERT INTO big (id, v) VALUES (:id, :v)",
                        [{"id": 10 + i, "v": 10 + i} for i in range(3000)] + [{"id": 2, "v": 0}])
        try:
            conn.commit()
        except dbapi.IntegrityError:
            done += 1
    conn.close()
    return done


def _overlay_reads(store: EmbeddedStore, stop: threading.Event) -> int:
    """New connections that read their own pending row back (each makes a new temp table)."""
    done = 0
    while not stop.is_set():
        conn = dbapi.connect(store=store)
        cur = conn.cursor()
        for n in range(3):
            cur.execute("INSERT INTO small (id, v) VALUES (:id, :v)", {"id": n, "v": n})
            # not by key: the query runs in SQLite over the overlay temp table
            cur.execute("SELECT small.id FROM small WHERE small.v = :v", {"v": n})
            assert cur.fetchall() == [(n,)]
        conn.rollback()
        conn.close()
        done += 1
    return done


def test_overlay_tables_survive_other_threads_rollbacks() -> None:
    store = EmbeddedStore(None)
    setup = dbapi.connect(store=store)
    setup.cursor().execute(f"CREATE COLLECTION big {UNIQUE_SPEC}")
    setup.cursor().execute(f"CREATE COLLECTION small {SPEC}")
    setup.cursor().execute("INSERT INTO big (id, v) VALUES (1, 0)")
    setup.commit()
    stop = threading.Event()
    errors: list[BaseException] = []
    counts: dict[str, int] = {}

    def run(name: str, work: Callable[[EmbeddedStore, threading.Event], int]) -> None:
        try:
            counts[name] = work(store, stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=run, args=("rollbacks", _failing_commits)),
               threading.Thread(target=run, args=("readers", _overlay_reads)),
               threading.Thread(target=run, args=("readers2", _overlay_reads))]
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    setup.close()
    store.close()
    assert errors == []
    assert counts["rollbacks"] > 0 and counts["readers"] > 0, counts
