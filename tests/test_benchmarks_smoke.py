"""Smoke test of the benchmark scripts: each runs with a tiny N and prints its figures.

No timing is asserted here (a shared CI machine makes timing tests flaky and meaningless); the figures
live in BENCHMARKS.md. This only proves the scripts still run against the current code and that the
scenario they time really completes (``RoScenario.check_clean`` raises otherwise).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_bench_sim_prints_every_simulator_figure() -> None:
    out = _run("benchmarks/bench_sim.py", "--tiny", "--only", "P1,P2,P3")
    for figure in ("P1 scenarios/s", "P1 floor scenarios/s", "P1 simulator / floor", "P2 cost ratio",
                   "P3 bytes per idle line", "P3 bytes per live call"):
        assert re.search(rf"^{re.escape(figure)} = [\d,.]+", out, re.M), out


def test_bench_sim_p4_and_p5_run() -> None:
    out = _run("benchmarks/bench_sim.py", "--tiny", "--only", "P4,P5")
    assert re.search(r"^P4 suite / empty pytest = [\d.]+", out, re.M), out
    assert re.search(r"^P5 now\(\)\s+[\d,]+ round trips/s", out, re.M), out
