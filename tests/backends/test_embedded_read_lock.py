"""File-store reads do not serialise on the process-wide store lock.

Every handle on a file store has its own sqlite3 connection, and WAL lets readers run in
parallel; the store lock guards a memory store's one shared connection and the catalog. A read
(a query, a load by id) must complete while another thread holds the store lock, as a long
read or commit of that thread would. (bench/read_threads.py measures the throughput.)
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqla_docstore import dbapi

SPEC = '{"fields": [{"name": "id", "type": "INTEGER"}, {"name": "v"}], "primary_key": ["id"]}'


def _reads(conn: dbapi.Connection) -> list[object]:
    cur = conn.cursor()
    cur.execute("SELECT t.id FROM t WHERE t.v = :v", {"v": "b"})  # a query, in SQLite
    found = cur.fetchall()
    cur.execute("SELECT t.v FROM t WHERE t.id = :id", {"id": 1})  # a load by id
    found += cur.fetchall()
    conn.rollback()
    return found


def test_file_store_reads_run_while_another_thread_holds_the_store_lock(db_path: Path) -> None:
    conn = dbapi.connect(str(db_path))
    conn.cursor().execute(f"CREATE COLLECTION t {SPEC}")
    conn.cursor().executemany("INSERT INTO t (id, v) VALUES (:id, :v)",
                              [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])
    conn.commit()
    assert _reads(conn) == [(2,), ("a",)]  # warm: plans, auto-indexes, catalog
    results: list[object] = []
    store = conn.backend.store  # type: ignore[attr-defined]
    with store.lock:  # held by this thread for the whole read of the other one
        worker = threading.Thread(target=lambda: results.append(_reads(conn)))
        worker.start()
        worker.join(timeout=20)
        finished = not worker.is_alive()
    worker.join()
    conn.close()
    assert finished, "the read waited for the store lock"
    assert results == [[(2,), ("a",)]]
