"""``decart-emulator`` / ``python -m decart_emulator``: run the emulator until SIGINT or SIGTERM.

The first line on stdout is ``decart-emulator listening on URL``, flushed at once, so that a
parent process can read the port when it asked for a free one (``--port 0``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ._server import DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_READ_TIMEOUT_SECONDS, Emulator

__all__ = ["main"]

DEFAULT_API_KEY = "test-key"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="decart-emulator", description="A local emulator of Decart's Queue API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"an accepted API key; repeatable (default: {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--pending-seconds",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how long a new job's status stays pending (default: 1)",
    )
    parser.add_argument(
        "--processing-seconds",
        type=float,
        default=1.5,
        metavar="SECONDS",
        help="how long it then stays processing before it completes (default: 1.5)",
    )
    parser.add_argument(
        "--job-limit-seconds",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="fail a job not finished after this long, as the service does (default: 600)",
    )
    parser.add_argument(
        "--max-upload-bytes",
        type=int,
        default=DEFAULT_MAX_UPLOAD_BYTES,
        metavar="BYTES",
        help=f"answer 413 to a larger upload (default: {DEFAULT_MAX_UPLOAD_BYTES})",
    )
    parser.add_argument(
        "--read-timeout-seconds",
        type=float,
        default=DEFAULT_READ_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="abandon a request body when no byte arrives for this long (408, connection "
        f"closed); default {DEFAULT_READ_TIMEOUT_SECONDS:g}",
    )
    parser.add_argument(
        "--state-dir", metavar="DIR", help="keep jobs and files here, across restarts"
    )
    parser.add_argument(
        "--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM chain)"
    )
    parser.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    parser.add_argument(
        "--tls", action="store_true", help="serve HTTPS with a throwaway CA; prints its path"
    )
    parser.add_argument(
        "--control", action="store_true", help="serve the /_emulator/ control endpoint"
    )
    parser.add_argument(
        "--no-reencode",
        action="store_true",
        help="return the input as the result, even when PyAV is installed",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        print("decart-emulator: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        emulator = Emulator(
            api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
            pending_seconds=args.pending_seconds,
            processing_seconds=args.processing_seconds,
            job_limit_seconds=args.job_limit_seconds,
            max_upload_bytes=args.max_upload_bytes,
            tls=args.tls,
            state_dir=args.state_dir,
            control_endpoint=args.control,
            host=args.host,
            port=args.port,
            tls_certfile=args.tls_cert,
            tls_keyfile=args.tls_key,
            reencode=False if args.no_reencode else None,
            read_timeout_seconds=args.read_timeout_seconds,
        )
    except ValueError as exc:  # a setting out of range: say which, and exit as for bad usage
        print(f"decart-emulator: {exc}", file=sys.stderr)
        return 2
    with emulator:
        print(f"decart-emulator listening on {emulator.base_url}", flush=True)
        print(f"api keys: {', '.join(args.api_keys or (DEFAULT_API_KEY,))}", flush=True)
        if emulator.ca_pem_path is not None:
            print(f"ca certificate: {emulator.ca_pem_path}", flush=True)
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
