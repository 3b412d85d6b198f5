"""Peak RSS of each process of a deployment, children included (Dramatiq forks its workers)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import psutil


@dataclass
class ProcessPeak:
    role: str
    pid: int
    cmd: str
    peak_rss_mb: float = 0.0


@dataclass
class RssSampler:
    """Samples every `interval` seconds in a thread; `roots` maps a role name to a root pid."""

    roots: dict[str, int]
    interval: float = 0.2
    peaks: dict[int, ProcessPeak] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sample()  # one last look, so a short scenario still gets a figure

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for role, pid in self.roots.items():
            try:
                root = psutil.Process(pid)
                family = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in family:
                try:
                    rss = proc.memory_info().rss / (1024 * 1024)
                    peak = self.peaks.get(proc.pid)
                    if peak is None:
                        label = role if proc.pid == pid else f"{role}/child"
                        peak = self.peaks[proc.pid] = ProcessPeak(label, proc.pid, _short_cmd(proc))
                    peak.peak_rss_mb = max(peak.peak_rss_mb, round(rss, 1))
                except psutil.Error:
                    continue

    def report(self) -> list[dict[str, object]]:
        return [
            {"role": p.role, "pid": p.pid, "cmd": p.cmd, "peak_rss_mb": p.peak_rss_mb}
            for p in sorted(self.peaks.values(), key=lambda p: (p.role, p.pid))
        ]


def _short_cmd(proc: psutil.Process) -> str:
    try:
        args = proc.cmdline()
    except psutil.Error:
        return "?"
    # Drop the interpreter path; keep what tells the processes apart (module, queues, processes).
    return " ".join(a for a in args[1:] if not a.startswith("/"))[:160]
