"""One ``make -C tsp`` at a time: the TSP tests (test_tsp_wine.py, test_tsp_transport.py) may run in two
pytest-xdist workers at once, and two makes writing the same objects in tsp/build/ would corrupt them."""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TSP = ROOT / "tsp"


def make_tsp(*targets: str, timeout: float = 900.0) -> subprocess.CompletedProcess[str]:
    """``make -C tsp -j2 [targets]`` under an exclusive lock on tsp/build/.make.lock (waits for the other)."""
    lock_dir = TSP / "build"
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / ".make.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # released when the file closes, also if make times out
        return subprocess.run(["make", "-C", str(TSP), "-j2", *targets], capture_output=True, text=True,
                              timeout=timeout)
