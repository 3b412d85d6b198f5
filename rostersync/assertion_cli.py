"""`rostersync assertion`: print an identity assertion signed with the first IDENTITY_KEYS key,
so a demo or a script can sign in as VenueOS would send someone (`/session?assertion=...`) or call
the API with `Authorization: Bearer <assertion>`."""

from __future__ import annotations

import argparse
import sys

from gateway.identity import MAX_LIFETIME_SECONDS, ROLES, IdentityKeyring, issue_assertion
from rostersync.logging import configure_logging
from rostersync.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", help="the VenueOS tenant id (required for district_admin)")
    parser.add_argument("--role", choices=ROLES, default="district_admin")
    parser.add_argument("--sub", default="demo-admin", help="who is signed in (an opaque user id)")
    parser.add_argument("--ttl", type=int, default=MAX_LIFETIME_SECONDS, help="seconds, at most 3600")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.role == "district_admin" and not args.tenant:
        print("a district_admin assertion needs --tenant", file=sys.stderr)
        return 2
    if not 1 <= args.ttl <= MAX_LIFETIME_SECONDS:
        print(f"--ttl must be from 1 to {MAX_LIFETIME_SECONDS} seconds", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)  # warnings to stderr: stdout is the JWT
    keyring = IdentityKeyring.from_settings(settings)
    if not keyring.secrets:
        print("IDENTITY_KEYS is empty: set it to sign assertions (key_id:secret)", file=sys.stderr)
        return 2
    tenant = args.tenant if args.role == "district_admin" else None
    print(issue_assertion(keyring, sub=args.sub, tenant=tenant, role=args.role, ttl_seconds=args.ttl))
    return 0
