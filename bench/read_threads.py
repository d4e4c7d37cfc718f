"""Benchmark: read throughput of a docstore:///file store from 1, 2 and 4 threads.

Each thread has its own DB-API connection (its own sqlite3 handle on the WAL file) and runs
the same read-only statements for a fixed time; the total statements per second are reported.
Reads of a file store should not serialise on a process-wide lock, so more threads give more
throughput as far as the cores allow (SQLite releases the GIL while it steps).

    python bench/read_threads.py                 # 20,000 documents, 5 s per thread count
    python bench/read_threads.py --docs 5000 --seconds 2 --threads 1 4
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from sqla_docstore import dbapi

SPEC = ('{"fields": [{"name": "id", "type": "INTEGER"}, {"name": "n", "type": "INTEGER"}, '
        '{"name": "payload", "type": "VARCHAR"}], "primary_key": ["id"], "autoincrement": "id"}')
#: a range scan that reads and filters bodies: SQLite work, with the GIL released
QUERY = ("SELECT count(*) FROM items WHERE items.n >= :lo AND items.n < :hi "
         "AND items.payload LIKE :pattern")


def build(path: Path, docs: int) -> None:
    conn = dbapi.connect(str(path))
    cur = conn.cursor()
    cur.execute(f"CREATE COLLECTION items {SPEC}")
    cur.executemany("INSERT INTO items (n, payload) VALUES (:n, :payload)",
                    [{"n": i, "payload": f"item {i} " + "x" * 200} for i in range(docs)])
    conn.commit()
    conn.close()


def run(path: Path, threads: int, seconds: float, docs: int) -> tuple[float, float]:
    """Statements per second over all threads, and the process's CPU seconds per second
    (above 1 only if threads ran in parallel; other load on the machine caps both)."""
    done = [0] * threads
    start = threading.Barrier(threads + 1)
    stop = threading.Event()

    def work(slot: int) -> None:
        conn = dbapi.connect(str(path))
        cur = conn.cursor()
        span = max(docs // 4, 1)
        cur.execute(QUERY, {"lo": 0, "hi": span, "pattern": "%9%"})  # warm the plan
        start.wait()
        count = 0
        while not stop.is_set():
            lo = (count * 997) % max(docs - span, 1)
            cur.execute(QUERY, {"lo": lo, "hi": lo + span, "pattern": "%9%"})
            cur.fetchall()
            conn.rollback()  # one transaction per statement, as a web request would
            count += 1
        done[slot] = count
        conn.close()

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    wall = time.perf_counter() - began
    return sum(done) / wall, (time.process_time() - cpu) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reads.db"
        build(path, args.docs)
        print(f"{args.docs} documents; {os.cpu_count()} CPUs; {args.seconds:.0f} s per run; "
              f"load average {os.getloadavg()[0]:.1f}")
        base = None
        for threads in args.threads:
            rate, cpu = run(path, threads, args.seconds, args.docs)
            base = base or rate
            print(f"{threads} thread(s): {rate:8.1f} statements/s  ({rate / base:.2f}x)  "
                  f"CPU {cpu:.2f} s/s")


if __name__ == "__main__":
    main()
