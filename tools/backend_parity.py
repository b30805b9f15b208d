"""Run the conformance suite on every profile through all three backends and check they agree test by test.

For each profile: ``sim`` in-process, ``bridge://`` to a virtual-clock bridge server on loopback (one per
profile, on a thread of this process; every test's connection gets a fresh PBX via ``session.reset``),
and ``tapi32:emulated`` (the ctypes adapter on the emulated tapi32.dll). Each run is an ordinary
``ro-conformance run`` writing its reports under OUT/<profile>/<backend>/; the outcome of every test
must be the same in the three results.json files. Runs go ``--jobs`` at a time (default: the number of
CPUs) in worker processes that each make many runs (``ro-conformance run`` in-process: the imports
are paid once per worker, not once per run). Exit 0 when every profile agrees, 1 when some test
differs, 2 when a run could not be made.

Usage: ``python tools/backend_parity.py [PROFILE ...] [--jobs N] [--out reports/parity]``
(default: every ``profiles/**/*.yaml``, mutants included). A summary is written to OUT/parity.json.

``python tools/backend_parity.py --compare RUN_DIR RUN_DIR ...`` makes no run: it compares the
results.json of runs made elsewhere (e.g. ``--backend tapi32:`` through a Windows TAPI service provider
against ``--backend sim``, docs/tsp.md), test by test, with the same rules and exit statuses.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sim", "bridge", "tapi32:emulated")
RUN_BOUND = 120.0    # wall-clock seconds one suite run may take on a loaded 2-core machine (typically 1-3)


def default_profiles() -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / "profiles").rglob("*.yaml"))


def _quiet_worker() -> None:
    """Worker processes: the runs' terminal output goes nowhere (the results.json files are read)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")   # noqa: SIM115 - lives as long as the worker
    os.environ.update({"RO_CONFORMANCE_TOKEN": "", "RO_CONFORMANCE_TOKEN_FILE": ""})


def run_suite(job: tuple[str, str, str, str]) -> tuple[int, dict[str, Any] | str]:
    """(exit status, results.json) of one ``ro-conformance run``, or (status, why it has none)."""
    from conformance.cli import main as cli

    profile, backend, spec, out = job
    results = Path(out) / "results.json"
    results.unlink(missing_ok=True)
    try:
        status = cli(["run", "--profile", profile, "--backend", spec, "--out", out])
    except BaseException as exc:   # a run must never take the whole comparison down
        return -1, f"{backend}: the run raised {type(exc).__name__}: {exc}"
    if not results.exists():
        return status, f"{backend}: no results.json (exit {status}); run it alone to see why"
    return status, json.loads(results.read_text(encoding="utf-8"))


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    return {f"{t['id']} {t['nodeid'].rpartition('::')[2]}": t["outcome"] for t in results["tests"]}


def compare(profile: Path, runs: dict[str, tuple[int, dict[str, Any] | str]]) -> tuple[int, list[str]]:
    """(0 agree / 1 differ / 2 a run failed, report lines) for one profile."""
    lines = [f"{profile}:"]
    broken = [r for _, r in runs.values() if isinstance(r, str)]
    if broken:
        return 2, lines + [f"  cannot compare: {b}" for b in broken]
    got = {b: outcomes(r) for b, (_, r) in runs.items() if isinstance(r, dict)}
    for backend, (status, results) in runs.items():
        assert isinstance(results, dict)
        ro = results["remote_office"]
        lines.append(f"  {backend:18s} exit {status}  verdict {ro['verdict']}  route {ro['route']}")
    ids = sorted(set().union(*got.values()))
    differing = [i for i in ids if len({g.get(i, "missing") for g in got.values()}) > 1]
    statuses = {status for status, _ in runs.values()}
    for test_id in differing:
        row = "  ".join(f"{b}={got[b].get(test_id, 'missing')}" for b in got)
        lines.append(f"  DIFFERS {test_id}: {row}")
    if len(statuses) > 1:
        lines.append(f"  DIFFERS exit status: {sorted(statuses)}")
    if differing or len(statuses) > 1:
        return 1, lines
    lines.append(f"  all {len(ids)} tests agree")
    return 0, lines


def compare_runs(dirs: list[Path]) -> int:
    """``--compare``: the outcomes of existing runs (each RUN_DIR/results.json), labelled by directory name."""
    if len(dirs) < 2:
        print("parity: --compare needs at least two run directories", file=sys.stderr)
        return 2
    runs: dict[str, tuple[int, dict[str, Any] | str]] = {}
    profiles = set()
    for d in dirs:
        path = d / "results.json" if d.is_dir() else d
        label = (path.parent.name if path.name == "results.json" else path.stem) or str(path)
        while label in runs:
            label += "'"
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(results, dict) or not isinstance(results.get("tests"), list) \
                    or "remote_office" not in results:
                raise ValueError("not a results.json of ro-conformance run (no tests / remote_office)")
            runs[label] = (int(results.get("exit_status", -1)), results)
            profiles.add(str(results.get("profile", {}).get("name", "?")
                             if isinstance(results.get("profile"), dict) else results.get("profile", "?")))
        except (OSError, ValueError, AttributeError) as exc:
            runs[label] = (-1, f"{label}: cannot read {path}: {exc}")
    code, lines = compare(Path(" / ".join(sorted(profiles)) or "?"), runs)
    print("\n".join(lines))
    verdict = {0: "every test agrees", 1: "some tests differ", 2: "some results could not be read"}[code]
    print(f"parity: {len(dirs)} runs compared: {verdict}", file=sys.stderr if code else sys.stdout)
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("profiles", nargs="*", type=Path, help="profiles (default: profiles/**/*.yaml)")
    parser.add_argument("--profile", action="append", type=Path, default=[], help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="suite runs at a time")
    parser.add_argument("--out", type=Path, default=Path("reports/parity"))
    parser.add_argument("--compare", nargs="+", type=Path, metavar="RUN_DIR",
                        help="compare the results.json of these run directories instead of running")
    args = parser.parse_args()
    if args.compare:
        return compare_runs(args.compare)
    profiles = [*args.profiles, *args.profile] or default_profiles()
    if not profiles:
        print("parity: no profiles found", file=sys.stderr)
        return 2

    # imported here so that --help works without the project's dependencies
    from conformance.backends.sim import SimBackend
    from conformance.bridge.server import BridgeServer, ServerThread
    from simulator._errors import ProfileError

    started = time.monotonic()
    servers: dict[Path, ServerThread] = {}
    jobs: list[tuple[str, str, str, str]] = []
    try:
        for profile in profiles:
            try:
                servers[profile] = ServerThread(BridgeServer(SimBackend(profile), mode="virtual")).start()
            except ProfileError as exc:
                print(f"parity: {profile}: {exc}", file=sys.stderr)
                return 2
            specs = {"sim": "sim", "bridge": f"bridge://{servers[profile].url}", "tapi32:emulated": "tapi32:emulated"}
            base = args.out / profile.with_suffix("").as_posix().replace("/", "_")
            jobs += [(str(profile), b, specs[b], str(base / b.replace(":", "-"))) for b in BACKENDS]
        print(f"parity: {len(profiles)} profile(s) x {len(BACKENDS)} backends, {args.jobs} run(s) at a time",
              flush=True)
        context = multiprocessing.get_context("spawn")   # fresh interpreters: no state from this one
        workers = max(1, args.jobs)
        with context.Pool(workers, initializer=_quiet_worker) as pool:
            pending = [pool.apply_async(run_suite, (job,)) for job in jobs]
            deadline = time.monotonic() + RUN_BOUND * (1 + len(jobs) / workers)   # every wait is bounded
            done: list[tuple[int, dict[str, Any] | str]] = []
            for job, result in zip(jobs, pending, strict=True):
                try:
                    done.append(result.get(timeout=max(1.0, deadline - time.monotonic())))
                except multiprocessing.TimeoutError:
                    done.append((-1, f"{job[1]}: not finished within {RUN_BOUND:g} s per run"))
    finally:
        for st in servers.values():
            st.stop()
    status, summary = 0, {}
    for i, profile in enumerate(profiles):
        runs = {b: done[i * len(BACKENDS) + k] for k, b in enumerate(BACKENDS)}
        code, lines = compare(profile, runs)
        print("\n".join(lines))
        status = max(status, code)
        summary[str(profile)] = {"agree": code == 0, "report": lines[1:]}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "parity.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    elapsed = time.monotonic() - started
    verdict = {0: "every test agrees on sim, bridge and tapi32:emulated", 1: "some tests differ between backends",
               2: "some runs could not be made"}[status]
    print(f"parity: {len(profiles)} profile(s), {elapsed:.0f} s: {verdict}", file=sys.stderr if status else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())
