"""``python -m sqla_docstore serve``: run the RavenDB-compatible server until interrupted."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any


def add_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve", help="serve embedded stores over RavenDB's HTTP protocol (test infrastructure)")
    serve.add_argument("--data", default=None,
                       help="a directory of <database>.db files, or one .db file (default: "
                            "in memory)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080,
                       help="port of the first node; the others use the next ports")
    serve.add_argument("--nodes", default="A", help="node tags, e.g. A,B,C (default: A)")
    serve.add_argument("--database", action="append", default=[],
                       help="create this database if missing (repeatable)")
    serve.add_argument("--cert", help="server certificate (PEM); enables HTTPS")
    serve.add_argument("--key", help="the server certificate's private key (PEM)")
    serve.add_argument("--ca", help="CA bundle (PEM) that client certificates must chain to")
    serve.add_argument("--verbose", action="store_true", help="log every request to stderr")
    serve.add_argument("--index-lag", type=float, default=0.0, metavar="SECONDS",
                       help="queries see a write only this long after it (IsStale until "
                            "then; WaitForNonStaleResults waits), as RavenDB's indexes lag")
    serve.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .node import serve_cluster
    from .tls import server_context

    context = None
    if args.cert:
        if not args.ca:
            raise SystemExit("--cert needs --ca: clients must present a certificate")
        context = server_context(args.cert, args.key, args.ca)
    cluster = serve_cluster(args.data, args.nodes, databases=args.database, host=args.host,
                            port=args.port, ssl_context=context, record=False,
                            verbose=args.verbose)
    cluster.databases.set_index_lag(args.index_lag)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for tag in cluster.tags:
        print(f"node {tag}: {cluster.url_of(tag)}", flush=True)
    print(f"databases: {', '.join(cluster.databases.names()) or '(none)'}", flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    cluster.close()
    return 0
