"""C1: ``ro-conformance run`` (reference profile, simulator, all three reports) ÷ ``pytest`` of one empty
test, wall time, both in a *plain* environment: a fresh venv holding only the built wheel and its
dependencies (no dev plugins such as xdist or hypothesis, which every pytest start would import),
bytecode cached (one unmeasured run of each first). Median of K alternating runs.

    python benchmarks/bench_cli.py [--repeat K] [--python PLAIN_VENV_PYTHON]

Without ``--python`` the wheel is built and installed into a temporary venv (needs the package index or
pip's cache; ~30 s before the first measurement).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "simulator", "conformance", "profiles")


def _check(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} -> {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def plain_venv(where: Path) -> Path:
    """Build the wheel from a copy of the sources and install it alone into a fresh venv; its python."""
    src = where / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "shipped_profiles", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            src.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    _check([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(where / "dist"), str(src)], where)
    (wheel,) = (where / "dist").glob("*.whl")
    _check([sys.executable, "-m", "venv", "--without-pip", str(where / "venv")], where)
    python = where / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _check([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", str(wheel)], where)
    return python


def _wall(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} -> {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return took


def c1(python: Path, repeat: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        (where / "test_empty.py").write_text("def test_empty():\n    pass\n", encoding="utf-8")
        cli = [str(python), "-m", "conformance.cli", "run", "--out", str(where / "out")]
        empty = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_empty.py"]
        _wall(cli, where), _wall(empty, where)          # bytecode compiled and cached, not measured
        runs, empties = [], []
        for _ in range(repeat):
            empties.append(_wall(empty, where))
            runs.append(_wall(cli, where))
    r, e = statistics.median(runs), statistics.median(empties)
    print(f"C1 ro-conformance run / empty pytest = {r / e:.2f}   (run {r:.2f} s, empty test {e:.2f} s, "
          f"median of {repeat}, plain venv)")
    return r / e


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--python", type=Path, default=None, help="python of an existing plain venv")
    args = parser.parse_args()
    if args.python is not None:
        c1(args.python, args.repeat)
        return
    with tempfile.TemporaryDirectory() as tmp:
        c1(plain_venv(Path(tmp)), args.repeat)


if __name__ == "__main__":
    main()
