"""Command line: ``python -m simulator`` / ``rostersync simulator``.

Prints the accepted OAuth client credentials and each district's id and token, then one machine-readable
line ``SIMULATOR_READY {json}`` that a parent process can wait for.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time

import uvicorn

from simulator.app import build_app
from simulator.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SimulatorConfig, SimulatorState

READY_PREFIX = "SIMULATOR_READY "


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = pick a free port")
    parser.add_argument("--schools", type=int, default=10, help="schools per district (1..1000+)")
    parser.add_argument("--districts", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate-limit", type=int, default=1200, help="requests per window per token")
    parser.add_argument("--rate-window", type=float, default=60.0, help="rate-limit window in seconds")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every data-API response")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share (0..1) of 500/502/503 answers")
    parser.add_argument("--stall-rate", type=float, default=0.0, help="share (0..1) of stalled requests")
    parser.add_argument("--stall-seconds", type=float, default=0.0, help="how long a stalled request sleeps")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault-injection RNG")
    parser.add_argument("--code-ttl", type=float, default=60.0, help="OAuth code lifetime in seconds")
    parser.add_argument(
        "--overshare",
        action="store_true",
        help="serve students and contacts to every token, whatever its scopes",
    )
    parser.add_argument(
        "--no-initial-event",
        action="store_true",
        help="start with an empty events feed instead of one districts.updated event",
    )
    parser.add_argument(
        "--consent-screen",
        action="store_true",
        help="show a browser Clever's consent page (Approve / Deny) instead of approving at once",
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        seed=args.seed,
        schools=args.schools,
        districts=args.districts,
        client_id=os.environ.get("CLEVER_CLIENT_ID") or DEFAULT_CLIENT_ID,
        client_secret=os.environ.get("CLEVER_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        stall_rate=args.stall_rate,
        stall_seconds=args.stall_seconds,
        fault_seed=args.fault_seed,
        code_ttl=args.code_ttl,
        initial_event=not args.no_initial_event,
        honour_scopes=not args.overshare,
        consent_screen=args.consent_screen,
    )


def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    state = SimulatorState(config_from_args(args))
    app = build_app(state)
    # Bind before announcing readiness, so the READY line always names a port that accepts connections.
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this; without it Nagle + delayed ACK add ~40 ms to every keep-alive request
    # because uvicorn writes headers and body separately.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    info = state.ready_info(f"http://{host}:{port}")
    print(f"Clever simulator on {info['base_url']} (built in {time.monotonic() - started:.1f}s)")
    print(f"OAuth client_id={info['client_id']} client_secret={info['client_secret']}")
    for d in info["districts"]:
        print(f"district {d['id']} token={d['token']} name={d['name']}")
    print(READY_PREFIX + json.dumps(info, ensure_ascii=False), flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        state.webhook.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="simulator", description="Clever API simulator")
    add_arguments(parser)
    run(parser.parse_args(argv))
    sys.stdout.flush()
