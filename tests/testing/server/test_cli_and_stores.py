"""``python -m sqla_docstore serve``, and one embedded store shared by SQLAlchemy and the server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from sqla_docstore.testing.server import serve_cluster

from .conftest import open_store


def _free_ports(count: int) -> int:
    """A port p such that p .. p+count-1 are free now."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            first = int(sock.getsockname()[1])
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError("no run of free ports")


def test_serve_command(tmp_path: Path) -> None:
    port = _free_ports(2)
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "sqla_docstore", "serve", "--data", str(tmp_path / "data"),
             "--port", str(port), "--nodes", "A,B", "--database", "shop"],
            stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]  # printed once serving
        assert lines[0].strip() == f"node A: http://127.0.0.1:{port}", errors.read_text()
        assert lines[2].strip() == "databases: shop"
        topology = requests.get(f"http://127.0.0.1:{port + 1}/topology",
                                params={"name": "shop"}, timeout=30).json()
        assert [n["ClusterTag"] for n in topology["Nodes"]] == ["A", "B"]
        assert (tmp_path / "data" / "shop.db").exists()
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


def test_documents_written_through_sqlalchemy_are_served(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    engine = create_engine(f"docstore:///{path}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Customer(id=1, name="Ada"), Customer(id=2, name="Linus")])
        session.commit()
    cluster = serve_cluster(path, "A")
    store = open_store(cluster.urls, "app", single_node=True)
    try:
        with store.open_session() as session:
            ada = session.load("customers/1", dict)
            assert ada["name"] == "Ada"
            assert session.advanced.get_metadata_for(ada)["@collection"] == "customers"
            names = [c["name"] for c in session.advanced.raw_query(
                "from Customers where name = $n", dict).add_parameter("n", "LINUS")]
            assert names == ["Linus"]
            ada["name"] = "Ada L."
            session.save_changes()
        with Session(engine) as session:  # the server's write is visible to SQLAlchemy
            assert session.scalars(select(Customer.name).order_by(Customer.id)).all() == [
                "Ada L.", "Linus"]
    finally:
        store.close()
        cluster.close()
        engine.dispose()


def test_a_data_directory_keeps_databases(tmp_path: Path) -> None:
    cluster = serve_cluster(tmp_path, "A", databases=["one"])
    store = open_store(cluster.urls, "one", single_node=True)
    with store.open_session() as session:
        session.store({"name": "kept"}, "things/1")
        session.save_changes()
    store.close()
    cluster.close()
    again = serve_cluster(tmp_path, "A")
    try:
        assert again.databases.names() == ["one"]
        reply: Any = requests.get(f"{again.url}/databases/one/docs", params={"id": "things/1"})
        assert reply.json()["Results"][0]["name"] == "kept"
    finally:
        again.close()
