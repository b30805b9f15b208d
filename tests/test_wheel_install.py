"""The product as a user gets it: build the wheel, install it into a fresh venv outside the repository,
and use it from an empty folder -- shipped profiles by name, the default run, the schema, the plugin.

Needs the package index (the wheel's build requirements and its dependencies; pip's cache makes reruns
fast). Slow by nature (~1 min): one test, so it occupies one xdist worker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "simulator", "conformance", "profiles")


def _run(argv: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST"))}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _copy_sources(target: Path) -> None:
    """The files a wheel is built from, without caches or an in-place copy of the shipped profiles."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "shipped_profiles", "*.egg-info")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, target / name, ignore=ignore)
        else:
            shutil.copy2(src, target / name)


def test_the_wheel_runs_by_name_from_an_empty_folder(tmp_path: Path) -> None:
    src, dist, venv, empty = (tmp_path / n for n in ("src", "dist", "venv", "empty"))
    src.mkdir()
    empty.mkdir()
    _copy_sources(src)
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)], tmp_path)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("ro_conformance-*.whl")
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    installed = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", str(wheel)], tmp_path)
    assert installed.returncode == 0, installed.stderr
    cli = str(python.parent / "ro-conformance")

    where = _run([str(python), "-c", "import conformance; print(conformance.__file__)"], empty)
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout, where

    version = _run([cli, "--version"], empty)
    assert version.returncode == 0 and version.stdout.startswith("ro-conformance "), version

    listed = _run([cli, "profiles"], empty)
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()}
    shipped = {p.relative_to(ROOT / "profiles").with_suffix("").as_posix() for p in (ROOT / "profiles").rglob("*.yaml")}
    assert names == shipped

    schema = _run([cli, "schema"], empty)
    assert schema.returncode == 0 and json.loads(schema.stdout)["$schema"].startswith("https://json-schema.org/")

    default = _run([cli, "run"], empty)
    assert default.returncode == 0, default.stdout + default.stderr
    assert "Remote Office verdict: compatible" in default.stdout
    report = empty / "reports" / "reference" / "report.html"
    assert report.is_file() and str(venv) not in report.read_text(encoding="utf-8")

    by_name = _run([cli, "run", "--profile", "consult-connected-only", "--out", "cco"], empty)
    assert by_name.returncode == 1, by_name.stdout + by_name.stderr

    plugin = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs", "conformance.suite",
                   "--tapi-profile", "blind-only", "--tapi-exitstatus"], empty)
    assert plugin.returncode == 0, plugin.stdout + plugin.stderr
    assert "Remote Office verdict: compatible   route: blind" in plugin.stdout
    assert sorted(p.name for p in empty.iterdir()) == ["cco", "reports"]
