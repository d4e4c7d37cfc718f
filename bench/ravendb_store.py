"""Benchmark: store N objects in one unit of work, sqla_docstore (ORM on ravendb://) versus the
official ``ravendb`` client, against one bundled server running in a separate process.

Run from the repository root with the venv active::

    python bench/ravendb_store.py            # N = 10,000, 5 rounds
    python bench/ravendb_store.py --quick    # N = 1,000, 3 rounds (CI smoke run)
    python bench/ravendb_store.py --check    # exit status 1 if ours/theirs CPU > 1.0

Client-side CPU is ``time.process_time()`` of this process (the server's work is in its own
process and not counted); wall time is shown too. Objects are built before the clock starts;
the timed part is ``add_all`` + ``commit`` (ours) or ``store`` x N + ``save_changes``
(theirs). Each round stores into fresh databases and runs both clients back to back,
alternating which goes first; the table shows medians and the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import gc
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ravendb  # type: ignore[import-untyped]
import requests
import requests.adapters
from sqlalchemy import String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import sqla_docstore

TARGET = 1.0  # client CPU, ours / theirs


class Base(DeclarativeBase):
    pass


class Customer(Base):
    """The model of SQLAlchemy's examples/performance/bulk_inserts.py."""

    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255))


class Customers:
    """The official client's entity: collection ``Customers``, ids ``customers/<n>-A``."""

    def __init__(self, name: str | None = None, description: str | None = None,
                 Id: str | None = None) -> None:  # noqa: N803
        self.Id = Id
        self.name = name
        self.description = description


# ------------------------------------------------------------------------------ server


class Server:
    """``python -m sqla_docstore serve`` in a child process, on a free loopback port."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sqla_docstore", "serve", "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"node A: (\S+)", line)
        if match is None:
            self.proc.kill()
            raise SystemExit(f"the server did not start: {line!r}")
        self.url = match.group(1)
        # keep reading its output, so a full pipe never blocks it
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def new_database(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        reply = requests.put(f"{self.url}/admin/databases", params={"name": name},
                             json={"DatabaseName": name}, timeout=30)
        reply.raise_for_status()
        return name

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --------------------------------------------------------------------- request counting


class Wire:
    """Counts the HTTP requests this process sends, by the last path segment."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        original = requests.adapters.HTTPAdapter.send
        counts = self.counts

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            path, _, query = request.path_url.partition("?")
            # sqla_docstore's once-per-transaction schema catalog check (a conditional GET,
            # mostly 304; README: RavenDB over HTTP) is named apart from document loads
            catalog = path.endswith("/docs") and "sqla_docstore%2Fcatalog" in query
            counts["catalog check" if catalog else path.rsplit("/", 1)[-1]] += 1
            return original(adapter, request, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign,assignment]

    @contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        before = Counter(self.counts)
        box: Counter[str] = Counter()
        yield box
        box.update(self.counts)
        box.subtract(before)
        for key in [k for k, v in box.items() if not v]:
            del box[key]


# ------------------------------------------------------------------------------- runs


@dataclass
class Run:
    cpu: float
    wall: float
    wire: dict[str, int]
    counted: dict[str, int] = field(default_factory=dict)  # what the client itself counts


@contextmanager
def clock() -> Iterator[list[float]]:
    gc.collect()
    box: list[float] = []
    cpu, wall = time.process_time(), time.perf_counter()
    yield box
    box += [time.process_time() - cpu, time.perf_counter() - wall]


def ours(server: Server, n: int, wire: Wire) -> Run:
    database = server.new_database("ours")
    engine = create_engine(f"ravendb://{server.url.split('://', 1)[1]}/{database}")
    try:
        Base.metadata.create_all(engine)
        with Session(engine) as session:  # topology and schema: a connection's first use
            session.scalars(select(Customer).where(Customer.id == 0)).all()
        with Session(engine) as session:
            objects = [Customer(name=f"customer name {i}",
                                description=f"customer description {i}") for i in range(n)]
            with wire.counting() as sent, clock() as times:
                session.add_all(objects)
                session.commit()
            counted = sqla_docstore.request_counts(session)
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Customer)) == n
    finally:
        engine.dispose()
    return Run(times[0], times[1], dict(sent), dict(counted))


def theirs(server: Server, n: int, wire: Wire) -> Run:
    database = server.new_database("theirs")
    store = ravendb.DocumentStore([server.url], database)
    store.conventions.disable_topology_cache = True
    store.initialize()
    try:
        with store.open_session() as session:  # topology: the store's first request
            session.load("customers/0", Customers)
        with store.open_session() as session:
            objects = [Customers(f"customer name {i}", f"customer description {i}")
                       for i in range(n)]
            with wire.counting() as sent, clock() as times:
                for obj in objects:
                    session.store(obj)
                session.save_changes()
            counted = {"session requests": session.advanced.number_of_requests}
        with store.open_session() as session:
            assert session.query(object_type=Customers).count() == n
    finally:
        store.close()
    return Run(times[0], times[1], dict(sent), counted)


CLIENTS: dict[str, Callable[[Server, int, Wire], Run]] = {"sqla_docstore": ours,
                                                          "ravendb (official)": theirs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1,000, 3 rounds")
    parser.add_argument("-n", type=int, help="objects per unit of work")
    parser.add_argument("--rounds", type=int, help="timed rounds (each runs both clients)")
    parser.add_argument("--check", action="store_true",
                        help=f"exit status 1 if the CPU ratio exceeds {TARGET}")
    args = parser.parse_args(argv)
    n = args.n or (1_000 if args.quick else 10_000)
    rounds = args.rounds or (3 if args.quick else 5)

    server = Server()
    wire = Wire()
    results: dict[str, list[Run]] = {name: [] for name in CLIENTS}
    ratios: list[float] = []
    try:
        for client in CLIENTS.values():  # warm up: imports, caches, first connections
            client(server, min(n, 200), wire)
        for r in range(rounds):
            order = list(CLIENTS) if r % 2 == 0 else list(reversed(CLIENTS))
            this_round = {name: CLIENTS[name](server, n, wire) for name in order}
            for name, run in this_round.items():
                results[name].append(run)
            ratios.append(this_round["sqla_docstore"].cpu / this_round["ravendb (official)"].cpu)
    finally:
        server.stop()

    print(f"\nStore {n:,} objects in one unit of work, {rounds} rounds, server {server.url} "
          f"(separate process), Python {sys.version.split()[0]}, ravendb "
          f"{_version('ravendb')}, SQLAlchemy {_version('sqlalchemy')}\n")
    header = f"{'client':<20} {'CPU s (median)':>15} {'wall s (median)':>16}  requests per commit"
    print(header)
    print("-" * len(header))
    for name, runs in results.items():
        cpu = statistics.median(r.cpu for r in runs)
        wall = statistics.median(r.wall for r in runs)
        sent = ", ".join(f"{k} {v}" for k, v in sorted(runs[-1].wire.items()))
        counted = ", ".join(f"{k} {v}" for k, v in sorted(runs[-1].counted.items()))
        print(f"{name:<20} {cpu:>15.3f} {wall:>16.3f}  HTTP: {sent}; counted: {counted}")
    ratio = statistics.median(ratios)
    verdict = "ok" if ratio <= TARGET else "MISSED"
    print(f"\nclient CPU ours / theirs: {ratio:.2f} (median of rounds; target <= {TARGET}: "
          f"{verdict}); rounds: {', '.join(f'{x:.2f}' for x in ratios)}")
    ours_wire = results["sqla_docstore"][-1].wire
    only_batch_and_hilo = ours_wire.get("bulk_docs") == 1 and set(ours_wire) <= {
        "bulk_docs", "next", "catalog check"} and ours_wire.get("catalog check", 0) <= 1
    print(f"ours per commit: {ours_wire.get('bulk_docs', 0)} batch + {ours_wire.get('next', 0)} "
          f"HiLo range(s) + at most 1 catalog check, nothing else: "
          f"{'ok' if only_batch_and_hilo else 'MISSED'}")
    if args.check and (ratio > TARGET or not only_batch_and_hilo):
        return 1
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    sys.exit(main())
