"""The Procfile's processes for benchmarks: gunicorn `web` and `tgwa worker`s on one Redis."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def directory(contacts: int, path: Path, per_partner: int = 10) -> Path:
    """A directory of `contacts` opted-in partner contacts in EMEA, `per_partner` to a partner."""
    lines = ["partners:"]
    for n in range((contacts + per_partner - 1) // per_partner):
        lines += [f"  - id: P{n:04d}", f"    name: Partner {n}", "    region: EMEA", "    country: GB", "    contacts:"]
        lines += [f'      - {{name: "Contact {n}-{k}", phone: "+44 7700 {n:04d}{k:02d}", opt_in: true}}'
                  for k in range(per_partner) if n * per_partner + k < contacts]
    path.write_text("\n".join(lines + ["staff: []", "groups: []"]) + "\n")
    return path


def phone(n: int, per_partner: int = 10) -> str:
    return f"447700{n // per_partner:04d}{n % per_partner:02d}"


def web_command(port: int, app: str = "app:create_app()", workers: int | None = None) -> list[str]:
    """The Procfile's `web` line as it would run on loopback: PORT and WEB_CONCURRENCY (`workers`,
    else the environment's) filled in, `app` served."""
    concurrency = str(workers or os.environ.get("WEB_CONCURRENCY", "2"))
    line = next(l for l in (ROOT / "Procfile").read_text().splitlines() if l.startswith("web:"))
    line = line.removeprefix("web:").replace("${PORT:-8000}", str(port)).replace(
        "${WEB_CONCURRENCY:-2}", concurrency).replace("0.0.0.0", "127.0.0.1")
    words = shlex.split(line)
    return [str(BIN / "gunicorn"), *[app if w == "app:create_app()" else w for w in words[1:]]]


@dataclasses.dataclass
class Running:
    base: str  # the web process's URL
    processes: list[subprocess.Popen[bytes]]  # gunicorn's master first, then the workers

    def worker_cpu(self) -> float:
        """CPU seconds the worker processes have used so far (with the jobs they forked)."""
        return sum(cpu_seconds(p.pid, children=True) for p in self.processes[1:])

    def web_cpu(self) -> float:
        """CPU seconds gunicorn's master and its workers have used so far."""
        master = self.processes[0].pid
        return cpu_seconds(master) + sum(cpu_seconds(pid) for pid in children(master))


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User and system CPU of a process from /proc (and of its children it waited for); 0 once gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes `pid` started (gunicorn's workers, for its master)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


TGWA_WORKER = [str(BIN / "tgwa"), "worker"]


@contextlib.contextmanager
def running(env: dict[str, str], web_workers: int, workers: int, app: str = "app:create_app()",
            worker: list[str] | None = None) -> Iterator[Running]:
    """Starts gunicorn serving `app` with `web_workers`, and `workers` processes of `worker`
    (`tgwa worker` unless told)."""
    port = free_port()
    processes = [subprocess.Popen(web_command(port, app=app, workers=web_workers), cwd=ROOT, env={**os.environ, **env},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    processes += [subprocess.Popen(worker or TGWA_WORKER, cwd=ROOT, env={**os.environ, **env},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        time.sleep(1.5)  # workers connected
        yield Running(base, processes)
    finally:
        stop(processes)


def wait_healthy(base: str) -> None:
    """Returns once the web process at `base` answers /healthz (or after 20 s, for the caller's
    own checks to say what is wrong)."""
    for _ in range(200):
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)


def stop(processes: list[subprocess.Popen[bytes]], grace: float = 15) -> None:
    """SIGTERM (a worker finishes its job first), then SIGKILL for any still running after `grace`."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
