"""Command line: ``demo [URL]`` runs a small app on the embedded store; ``serve`` a server."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile


def _demo(args: argparse.Namespace) -> int:
    url = args.url
    with tempfile.TemporaryDirectory() as tmp:
        if url is None:
            url = f"docstore:///{os.path.join(tmp, 'demo.db')}"
        print(f"sqla_docstore demo on {url}")
        from . import demo

        demo.main(url)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sqla_docstore")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run a small app that shows batching")
    demo.add_argument("url", nargs="?", default=None,
                      help="store URL (default: a fresh file store in a temporary folder)")
    demo.set_defaults(func=_demo)
    from .testing.server import cli as server_cli

    server_cli.add_parser(commands)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
