"""The command line: ``codestral-lsp`` (the server on stdio), ``--tcp``, and ``check``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from types import FrameType

from codestral_lsp import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codestral-lsp",
        description="A language server for Mistral's Codestral. With no command, serves LSP on stdio.",
    )
    parser.add_argument("--version", action="version", version=f"codestral-lsp {__version__}")
    parser.add_argument("--tcp", action="store_true", help="serve on TCP instead of stdio (debugging)")
    parser.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    parser.add_argument("--log-file", help="write logs here (created private) instead of stderr")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log debug details and HTTP bodies without your code; -vv: with it",
    )
    commands = parser.add_subparsers(dest="command")
    check = commands.add_parser(
        "check",
        help="check the endpoint, key and model, and say how to fix what is wrong",
        description=(
            "Check the setup: endpoint, key (masked), model, fill-in-the-middle. Exit 0 when all is well."
        ),
    )
    check.add_argument("--base-url", help="as the baseUrl setting")
    check.add_argument("--model", help="as the model setting")
    check.add_argument("--api-key-env", help="as the apiKeyEnv setting")
    check.add_argument("--settings", help="the settings object as JSON (the editor's settings)")
    return parser


INTERRUPTED_STATUS = 130  # what shells report for a process ended by Ctrl+C (128 + SIGINT)


def _exit_on_interrupt(signum: int, frame: FrameType | None) -> None:
    """End the server at once on Ctrl+C: flush the logs, say so on stderr, exit 130.

    pygls would instead wait for its stdin-reading thread (which a terminal never wakes), and a
    second Ctrl+C would then abort the interpreter. Nothing is lost by leaving at once: edits are
    applied by the editor, answers are written whole before they are announced, and open
    connections are closed by the system.
    """
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):  # leaving anyway: a log that cannot flush must not stop that
            handler.flush()
    with contextlib.suppress(OSError):
        os.write(2, b"codestral-lsp: stopped (Ctrl+C)\n")  # unbuffered: safe inside a signal handler
    os._exit(INTERRUPTED_STATUS)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``codestral-lsp`` console script and ``python -m codestral_lsp``."""
    args = _parser().parse_args(argv)
    env = dict(os.environ)
    signal.signal(signal.SIGINT, _exit_on_interrupt)
    if args.command == "check":
        from codestral_lsp.doctor import check
        from codestral_lsp.settings import parse_settings

        raw: dict[str, object] = {}
        if args.settings:
            try:
                raw = json.loads(args.settings)
            except ValueError as exc:
                print(f"--settings is not valid JSON: {exc}", file=sys.stderr)
                return 2
        flags = {"baseUrl": args.base_url, "model": args.model, "apiKeyEnv": args.api_key_env}
        settings, problems = parse_settings(raw, {k: v for k, v in flags.items() if v})
        return check(env, settings, sys.stdout, problems)

    from codestral_lsp.app import create_server
    from codestral_lsp.logs import configure_logging

    configure_logging(args.verbose, args.log_file, env)
    server = create_server()
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        server.start_io()
    return 0
