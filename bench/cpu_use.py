"""CPU seconds each part of the deployment spends on a phase: the product's processes with their
forked children, and PostgreSQL and RabbitMQ when they run on this machine. Divided by the events
the phase handled, it says where an event's CPU goes and how many events the machine's cores
could carry end to end."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import psutil

# Server processes by name, read when they run on this machine (a remote one is not counted).
SERVERS = {"postgresql": "postgres", "rabbitmq": "beam.smp"}


def _cpu_seconds(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except psutil.Error:  # ended meanwhile: its CPU is lost to the figure, not to the run
        return None
    return float(times.user + times.system)


def _family(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _servers() -> dict[str, list[psutil.Process]]:
    found: dict[str, list[psutil.Process]] = {role: [] for role in SERVERS}
    for process in psutil.process_iter(["name"]):
        for role, name in SERVERS.items():
            if process.info["name"] == name:
                found[role].append(process)
    return found


@dataclass
class CpuMeter:
    """`with CpuMeter({"gateway": pid}) as meter:` ... then `meter.per_event_ms(n)`. A process
    that starts during the phase (a PostgreSQL backend for a new pooled connection, a forked
    child) counts from its start; one that ends before the phase does is lost to the figure."""

    roots: dict[str, int]
    _start: dict[int, float] = field(default_factory=dict)  # pid → CPU seconds at the start
    _spent: dict[str, float] = field(default_factory=dict)  # role → CPU seconds in the phase

    def _processes(self) -> dict[str, list[psutil.Process]]:
        found = {role: _family(pid) for role, pid in self.roots.items()}
        found.update({role: processes for role, processes in _servers().items() if processes})
        return found

    def __enter__(self) -> CpuMeter:
        for processes in self._processes().values():
            for process in processes:
                seconds = _cpu_seconds(process)
                if seconds is not None:
                    self._start[process.pid] = seconds
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for role, processes in self._processes().items():
            spent = 0.0
            for process in processes:
                seconds = _cpu_seconds(process)
                if seconds is not None:
                    spent += seconds - self._start.get(process.pid, 0.0)
            self._spent[role] = spent

    def seconds(self) -> dict[str, float]:
        return {role: round(spent, 3) for role, spent in self._spent.items()}

    def per_event_ms(self, events: int) -> dict[str, float]:
        if events <= 0:
            return {}
        return {role: round(spent * 1000 / events, 3) for role, spent in self._spent.items()}


def sync_cpu(meter: CpuMeter, entities: int, wall_seconds: float) -> dict[str, Any]:
    """A sync's CPU by process: seconds, ms per 1,000 entities, and how busy it kept the cores."""
    seconds = meter.seconds()
    busy = sum(seconds.values()) / (wall_seconds * (os.cpu_count() or 1)) if wall_seconds > 0 else None
    per_1000 = {role: round(spent * 1e6 / entities, 3) for role, spent in seconds.items()} if entities else {}
    return {
        "seconds": seconds,
        "ms_per_1000_entities": per_1000,
        "machine_busy_share": None if busy is None else round(busy, 3),
    }


def carried_per_s(ms_per_event: float) -> float | None:
    """Events per second the machine's cores carry when each costs `ms_per_event` of CPU."""
    cores = os.cpu_count() or 1
    return round(cores * 1000 / ms_per_event, 1) if ms_per_event > 0 else None
