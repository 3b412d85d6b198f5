"""Optional sampling profiles (py-spy, collapsed stacks) of deployment processes while a
scenario runs; off unless a profile directory is given."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextmanager
def recording(out_dir: Path | None, pids: dict[str, int], label: str) -> Iterator[None]:
    """py-spy record of each pid (with its forked children) into `<out_dir>/<label>-<role>.txt`."""
    exe = _py_spy()
    if out_dir is None or exe is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    recorders = []
    for role, pid in pids.items():
        out = out_dir / f"{label}-{role}.txt"
        args = [exe, "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
        args += ["--rate", "100", "--nonblocking", "--output", str(out)]  # sampling must not pause it
        recorders.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for recorder in recorders:
            try:
                recorder.wait(timeout=60)
            except subprocess.TimeoutExpired:
                recorder.kill()
