"""Simulator benchmarks P1-P5 (issue 6): one core, in-process, virtual clock.

Run from the repository root::

    python benchmarks/bench_sim.py [--quick] [--only P1,P2,...] [--repeat K]

P1     complete Remote Office outbound scenarios per second (see ``_scenario.RoScenario``), best of K
       runs, and the FLOOR: the very same state changes (recorded from one real scenario) replayed by a
       bare dict-dispatch loop, with the ratio simulator / floor.
P2     cost of one scenario with 100,000 other call legs alive (on 100,000 other stations, each with an
       open line) / cost with 100 alive. Goal <= 1.2.
P3     tracemalloc bytes per idle open line and per live (connected) call leg.
P4     the conformance suite on profiles/reference.yaml, wall time / ``pytest`` of one empty test, both as
       subprocesses with the same plugins, median of K runs.
P5     ``benchmarks/bench_bridge.py`` (request -> reply round trips over loopback), run as a subprocess.

``--quick`` shrinks every N (the smoke test uses ``--quick --tiny``); figures are printed one per line as
``P1 ... = value``. The machine may be shared: take best-of (rates) and medians (wall times).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _scenario import RoScenario, background_calls, big_profile, connect_pairs, reference  # noqa: E402

from conformance.backends.sim import SimBackend  # noqa: E402
from simulator._calls import LineCall  # noqa: E402
from simulator._callstates import CALL_TRANSITIONS  # noqa: E402
from simulator._constants import ApiVersion  # noqa: E402


def _rate(fn: Callable[[], None], n: int, repeat: int) -> float:
    """Best-of-``repeat`` calls per CPU second of ``fn`` over ``n`` calls.

    CPU time of this process (``process_time``), not wall time: on a shared machine another process
    taking the core inflates wall time but not CPU time. Best-of, because interference only slows down.
    """
    best = 0.0
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(n):
            fn()
        best = max(best, n / max(time.process_time() - start, 1e-9))
    return best


# ----- P1 and its floor ---------------------------------------------------------------------------------
def p1(n: int, repeat: int) -> float:
    sc = RoScenario(SimBackend(reference()))
    for _ in range(min(n, 200)):   # warm up
        sc.run()
    sc.check_clean()
    rate = _rate(sc.run, n, repeat)
    sc.check_clean()
    print(f"P1 scenarios/s = {rate:,.0f}   ({sc.messages / (n * repeat + min(n, 200)):.0f} messages drained "
          f"per scenario, best of {repeat} x {n})")
    return rate


def recorded_moves() -> list[tuple[int, str]]:
    """The (leg, trigger) sequence of one real scenario, read off the provider's state reports."""
    sim = SimBackend(reference())
    sc = RoScenario(sim)
    moves: list[tuple[int, str, str]] = []
    original = sim.call_state

    def spy(call: LineCall, old: str, new: str) -> None:
        moves.append((call.call_id, old, new))
        original(call, old, new)

    sim.call_state = spy   # type: ignore[method-assign]
    sc.run()
    by_move = {(src, t["dest"]): t["trigger"] for t in CALL_TRANSITIONS for src in t["source"]}
    first = min(m[0] for m in moves)
    return [(call_id - first, by_move[(old, new)]) for call_id, old, new in moves]


def floor(n: int, repeat: int) -> float:
    """The same state changes by a bare dict-dispatch loop: lookup, store, queue an event, drain it."""
    table = {(src, t["trigger"]): t["dest"] for t in CALL_TRANSITIONS for src in t["source"]}
    moves = recorded_moves()

    def scenario() -> None:
        legs: dict[int, str] = {}
        queue: list[tuple[int, str]] = []
        for leg, trigger in moves:
            new = table[(legs.get(leg, "UNKNOWN"), trigger)]
            legs[leg] = new
            queue.append((leg, new))
        while queue:
            queue.pop()
    rate = _rate(scenario, n, repeat)
    print(f"P1 floor scenarios/s = {rate:,.0f}   ({len(moves)} state changes per scenario, bare dict dispatch)")
    return rate


# ----- P2 -----------------------------------------------------------------------------------------------
def cost_with(alive: int, n: int, repeat: int, freeze: bool) -> tuple[float, int]:
    """(CPU us per scenario, full GC passes during the runs) with ``alive`` other call legs around.

    As many lines are open as there are other calls. ``freeze``: ``gc.freeze()`` after the set-up, so the
    collector's oldest generation no longer walks the long-lived background objects.
    """
    sim = SimBackend(big_profile(alive))
    background_calls(sim, alive)
    gc.collect()
    if freeze:
        gc.freeze()
    sc = RoScenario(sim)
    for _ in range(min(n, 200)):
        sc.run()
    full_gcs = gc.get_stats()[2]["collections"]
    rate = _rate(sc.run, n, repeat)
    full_gcs = gc.get_stats()[2]["collections"] - full_gcs
    sc.check_clean()
    if len(sim.live_calls()) != alive:
        raise RuntimeError("background calls changed during the run")
    gc.unfreeze()
    return 1e6 / rate, full_gcs


def p2(big: int, n: int, repeat: int) -> float:
    ratio = 0.0
    for freeze in (False, True):
        small, small_gcs = cost_with(100, n, repeat, freeze)
        large, large_gcs = cost_with(big, n, repeat, freeze)
        ratio = large / small
        label = "P2 cost ratio, gc.freeze() after set-up" if freeze else "P2 cost ratio"
        print(f"{label} = {ratio:.2f}   ({large:.0f} us per scenario with {big:,} other calls alive, "
              f"{small:.0f} us with 100; full GC passes while timing: {large_gcs} vs {small_gcs})")
    return ratio


# ----- P3 -----------------------------------------------------------------------------------------------
def p3(n: int) -> tuple[float, float]:
    sim = SimBackend(big_profile(n))
    app, _, _ = sim.line_initialize_ex("bench-memory")
    devices = [sim.pbx.device(str(300000 + i)) for i in range(n)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for dev in devices:
        sim.line_open(app, dev.line_id or 0, ApiVersion.V2_2)
    gc.collect()
    per_line = _grown(before) / n
    tracemalloc.stop()
    # live calls: the lines stay open (not counted again); n/2 connected station-to-station calls = n legs
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    connect_pairs(sim, app, devices)
    gc.collect()
    per_call = _grown(before) / n
    tracemalloc.stop()
    if len(sim.live_calls()) != n:
        raise RuntimeError("not every call connected")
    print(f"P3 bytes per idle line = {per_line:,.0f}   (goal <= 2048; {n:,} lines opened)")
    print(f"P3 bytes per live call = {per_call:,.0f}   (goal <= 4096; {n:,} connected legs with monitor handles)")
    return per_line, per_call


def _grown(before: tracemalloc.Snapshot) -> int:
    after = tracemalloc.take_snapshot()
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


# ----- P4 -----------------------------------------------------------------------------------------------
def _wall(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):   # 1: the suite may report a failed requirement; still a full run
        raise RuntimeError(f"{' '.join(cmd)} -> {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return took


def p4(repeat: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        (where / "test_empty.py").write_text("def test_empty():\n    pass\n", encoding="utf-8")
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        suite = [*base, "--pyargs", "conformance.suite", f"--tapi-profile={ROOT / 'profiles/reference.yaml'}",
                 f"--tapi-results={where / 'results.json'}"]
        empty = [*base, "test_empty.py"]
        suites, empties = [], []
        for _ in range(repeat):
            empties.append(_wall(empty, where))
            suites.append(_wall(suite, where))
    s, e = statistics.median(suites), statistics.median(empties)
    print(f"P4 suite / empty pytest = {s / e:.2f}   (suite {s:.2f} s, empty test {e:.2f} s, "
          f"median of {repeat})")
    return s / e


# ----- P5 -----------------------------------------------------------------------------------------------
def p5(seconds: float) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks/bench_bridge.py"), "--seconds", str(seconds)],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        print(f"P5 {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small N (a rough figure in a few seconds)")
    parser.add_argument("--tiny", action="store_true", help="tiny N: only proves the script runs (smoke test)")
    parser.add_argument("--only", default="P1,P2,P3,P4,P5", help="comma-separated subset, e.g. P1,P3")
    parser.add_argument("--repeat", type=int, default=0, help="repetitions (default 5, --quick 3)")
    args = parser.parse_args()
    only = {s.strip().upper() for s in args.only.split(",")}
    repeat = args.repeat or (1 if args.tiny else 3 if args.quick else 5)
    n = 5 if args.tiny else 1000 if args.quick else 5000
    big = 100 if args.tiny else 10_000 if args.quick else 100_000
    print(f"python {sys.version.split()[0]}; N={n}, repeat={repeat}")
    if "P1" in only:
        sim_rate = p1(n, repeat)
        floor_rate = floor(n * 10, repeat)
        print(f"P1 simulator / floor = {floor_rate / sim_rate:.0f}x slower than the bare state changes")
    if "P2" in only:
        p2(big, n, repeat)
    if "P3" in only:
        p3(100 if args.tiny else 2_000 if args.quick else 20_000)
    if "P4" in only:
        p4(1 if args.tiny else repeat)
    if "P5" in only:
        p5(0.2 if args.tiny else 1.0 if args.quick else 3.0)


if __name__ == "__main__":
    main()
