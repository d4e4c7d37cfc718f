"""The ``ravendb://`` dialect: the docstore dialect over a RavenDB server or cluster (HTTP).

URLs::

    ravendb://host:8080/Northwind                 one node, plain HTTP
    ravendb+https://host:443/Northwind?cert=client.pem&ca=ca.pem
                                                  TLS with a client certificate (PEM with key)
    ravendb://db1:8080/Northwind + connect_args={"urls": ["http://db1:8080", "http://db2:8080"]}

Query options: ``cert``, ``ca``, ``timeout`` (seconds, default 30), ``foreign_keys=on``
(enforce declared foreign keys, see ``dbapi.foreign_keys``), ``read_balance``
(``none``: reads go to the preferred node, ``round_robin``: spread over healthy nodes),
``unique_checks=commit`` (unique values checked at commit only: no request per write
statement for them; see ``dbapi.unique_check``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine.url import URL

from ..backends.ravendb.http import Cluster
from .base import DocstoreDialect, _flag, _unique_checks

_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "cert": str, "ca": str, "timeout": float, "read_balance": str,
    "foreign_keys": lambda v: _flag("foreign_keys", v),
    "unique_checks": _unique_checks,
}


class RavenDBDialect(DocstoreDialect):
    name = "ravendb"
    driver = "http"
    supports_statement_cache = True
    scheme = "http"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._clusters: dict[Any, Cluster] = {}
        self._clusters_lock = threading.Lock()

    @classmethod
    def get_async_dialect_cls(cls, url: URL) -> type[DocstoreDialect]:
        from .asyncio import AsyncRavenDBDialect, AsyncRavenDBHTTPSDialect

        return AsyncRavenDBHTTPSDialect if cls.scheme == "https" else AsyncRavenDBDialect

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        opts: dict[str, Any] = {}
        for key, value in url.query.items():
            if key not in _OPTIONS:
                raise exc.ArgumentError(f"unknown ravendb URL option {key!r}")
            opts[key] = _OPTIONS[key](value)
        if not url.host or not url.database:
            raise exc.ArgumentError("ravendb URLs need a host and a database: "
                                    "ravendb://host:8080/Database")
        port = f":{url.port}" if url.port else ""
        opts["urls"] = [f"{self.scheme}://{url.host}{port}"]
        opts["database"] = url.database
        if self._json_serializer is not None:  # (a JSON column's text in SQL, as SQLite's)
            opts["json_serializer"] = self._json_serializer
        return [], opts

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        # One Cluster (topology, failed nodes, HTTP cache, HiLo ranges) per engine and target.
        key = (tuple(cparams.get("urls") or ()), cparams.get("database"), cparams.get("cert"),
               cparams.get("ca"), cparams.get("timeout"), cparams.get("read_balance"))
        with self._clusters_lock:
            cluster = self._clusters.get(key)
            if cluster is None:
                cluster = self._clusters[key] = Cluster(
                    list(cparams.pop("urls")), cparams.pop("database"),
                    cert=cparams.pop("cert", None), ca=cparams.pop("ca", None),
                    timeout=cparams.pop("timeout", 30.0),
                    read_balance=cparams.pop("read_balance", "none"),
                )
        for name in ("urls", "database", "cert", "ca", "timeout", "read_balance"):
            cparams.pop(name, None)
        return self.loaded_dbapi.connect(*cargs, cluster=cluster, **cparams)


class RavenDBHTTPSDialect(RavenDBDialect):
    driver = "https"
    supports_statement_cache = True
    scheme = "https"


dialect = RavenDBDialect
