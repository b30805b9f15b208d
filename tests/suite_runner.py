"""Running the conformance suite (or a user's test file) under pytester and reading its results.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

PROFILES = Path(__file__).resolve().parent.parent / "profiles"
SHIPPED = sorted(p.stem for p in PROFILES.glob("*.yaml"))


def derived_profile(tmp: Path, base: str, name: str, faults: list[dict[str, Any]] | None = None,
                    mutate: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """A copy of a shipped profile with ``simulation.faults`` (and ``mutate`` applied), written to ``tmp``."""
    data = yaml.safe_load((PROFILES / f"{base}.yaml").read_text(encoding="utf-8"))
    data["pbx"]["name"] = name
    if faults:
        data.setdefault("simulation", {})["faults"] = faults
    if mutate is not None:
        mutate(data)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_suite(pytester: pytest.Pytester, profile: Path | str, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """``pytest --pyargs conformance.suite --tapi-profile PROFILE`` in-process; (run, results.json)."""
    out = pytester.path / "results.json"
    if out.exists():
        out.unlink()
    # --tb=native: nothing reads the run's tracebacks, and pytest's own style parses the whole source file
    # of every frame (seconds a frame on the copy of conformance/suite/_flows.py mutmut makes)
    run = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--tb=native",
                                       "--pyargs", "conformance.suite", f"--tapi-profile={profile}",
                                       f"--tapi-results={out}", *args)
    assert out.exists(), run.stdout.str() + run.stderr.str()
    return run, json.loads(out.read_text(encoding="utf-8"))


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    return {t["id"]: t["outcome"] for t in results["tests"]}


def reasons(results: dict[str, Any]) -> dict[str, str]:
    return {t["id"]: t["reason"] for t in results["tests"]}
