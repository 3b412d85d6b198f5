"""Who runs a CLI command, as the audit log and resolved rows name them: `cli:<os user>`."""

from __future__ import annotations

import getpass
import os


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # a container user without a passwd entry or LOGNAME
        return f"cli:uid{os.getuid()}"
