"""The ``aoai-emulator`` command: serve the emulator; the first line on stdout is its base URL."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from .blobs import DEFAULT_MEMORY_LIMIT_MB
from .clock import CLOCK_MODES
from .emulator import create_emulator
from .heap import keep_freed_memory
from .server import base_url, bind, make_server
from .tls import make_certificate

# Plain text: argparse prints the description as it is, so reStructuredText markup would show.
DESCRIPTION = (
    "Serve an emulated Azure OpenAI (data plane and ARM) for offline tests and demos. The first line on "
    "stdout is its base URL."
)


class _Stopped(Exception):
    """A SIGTERM or SIGINT asked the emulator to stop."""


def _stop(signum: int, _frame: FrameType | None) -> None:
    # uvicorn shuts down gracefully on these signals, then raises them again with the handlers it found:
    # with the default SIGTERM handler the process would die there, leaving its temporary blob directory.
    raise _Stopped(signum)


def _pairs(values: list[str], flag: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for value in values:
        key, sep, number = value.partition("=")
        if not sep:
            raise SystemExit(f"aoai-emulator: {flag} {value!r}: expected NAME=SECONDS")
        out[key.strip()] = float(number)
    return out


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="aoai-emulator", description=DESCRIPTION)
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    p.add_argument("--state-file", help="JSON file that keeps the state across restarts")
    p.add_argument("--clock", choices=CLOCK_MODES, default="immediate", help="how emulator time runs")
    p.add_argument("--time-scale", type=float, default=1.0, help="speed of the 'time' clock (60: an hour in a minute)")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="RULE",
        help="fault rule as JSON or key=value,... (path=,method=,status=,code=,retry_after=,"
        "retry_after_ms=,latency_ms=,probability=,count=,skip=,seed=,kind=error|reset|latency,"
        "when=before|after); repeatable",
    )
    p.add_argument("--tls", action="store_true", help="serve https with a fresh self-signed certificate")
    p.add_argument("--seed", type=int, help="seed for ids, so runs are reproducible")
    p.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="NAME[@REGION]",
        help="create a ready account (keys: GET /_emulator/accounts); repeatable",
    )
    p.add_argument(
        "--timing",
        action="append",
        default=[],
        metavar="NAME=SECONDS",
        help="override a duration (file_processing, job_validation, job_training, ...); repeatable",
    )
    p.add_argument(
        "--blob-memory-limit-mb",
        type=int,
        default=DEFAULT_MEMORY_LIMIT_MB,
        metavar="MB",
        help="file contents held in memory, in total, before further uploads go to disk; 0 keeps every one on "
        f"disk (default {DEFAULT_MEMORY_LIMIT_MB}; with --state-file every one is on disk)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until interrupted."""
    args = parser().parse_args(argv)
    if args.blob_memory_limit_mb < 0:
        print(
            f"aoai-emulator: --blob-memory-limit-mb {args.blob_memory_limit_mb}: must be 0 (every upload on disk) "
            "or a positive number of megabytes",
            file=sys.stderr,
        )
        return 2
    try:
        emulator = create_emulator(
            clock=args.clock,
            time_scale=args.time_scale,
            state_file=args.state_file,
            seed=args.seed,
            timings=_pairs(args.timing, "--timing"),
            faults=args.fault,
            blob_memory_limit_mb=args.blob_memory_limit_mb,
        )
        if args.state_file is None:
            # This process is the emulator's alone: the memory of deleted files stays for the next upload.
            keep_freed_memory(args.blob_memory_limit_mb * 1024 * 1024)
    except ValueError as exc:
        print(f"aoai-emulator: {exc}", file=sys.stderr)
        return 2
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, _stop) for sig in handled}
    tls_dir = None
    try:
        sock = bind(args.host, args.port)
        tls = None
        if args.tls:
            tls_dir = tempfile.TemporaryDirectory(prefix="aoai-emulator-tls-")
            tls = make_certificate(Path(tls_dir.name), args.host)
        url = base_url(sock, args.host, tls is not None)
        emulator.service.base_url = url
        for spec in args.account:
            name, _, region = spec.partition("@")
            emulator.seed_account(name, region or "eastus2")
        print(url, flush=True)
        if tls is not None:
            print(f"tls certificate: {tls[0]}", flush=True)
        server = make_server(emulator.app, host=args.host, tls=tls)
        server.run(sockets=[sock])
    except _Stopped:
        pass
    finally:
        emulator.close()
        if tls_dir is not None:
            tls_dir.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
