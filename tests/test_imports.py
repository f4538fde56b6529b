"""Every module imports on its own, first thing in a fresh interpreter: no import cycle waits for
the one order that happens to work (a worker, a script or a test may start anywhere)."""
from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "conversations", "intents")


def modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    def load(module: str) -> str | None:
        done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True)
        return None if done.returncode == 0 else f"{module}: {done.stderr.strip().splitlines()[-1]}"

    with ThreadPoolExecutor(4) as pool:
        failures = [failure for failure in pool.map(load, modules()) if failure]
    assert len(modules()) > 40
    assert failures == []
