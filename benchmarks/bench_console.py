"""C2: the live console (``serve --console``) with 1,000 calls alive: does the page stay usable?

Run from the repository root (needs Debian's chromium + chromium-driver and selenium)::

    python benchmarks/bench_console.py [--calls 1000]

A PBX with ``--calls`` stations (wall clock, in-process server with the console) is opened in headless
chromium. Then ``--calls`` public-network parties each call one business number (2 x N call legs,
N trunk channels) and every station lifts its handset (all calls connected). Measured: how long until
the page shows everything; the JS main thread's worst delay while the updates arrive (a 16 ms
heartbeat: what a user clicking would wait); the server's CPU per state push; the push sizes; and, with
every call alive, a click (hang up one party) until the page shows that party idle.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.backends.sim import SimBackend  # noqa: E402
from conformance.bridge import console as console_mod  # noqa: E402
from conformance.bridge.server import BridgeServer, NotifyingWallClock, ServerThread  # noqa: E402


def _profile(n: int, tmp: Path) -> Path:
    text = (ROOT / "profiles" / "reference.yaml").read_text()
    stations = "stations:\n" + "".join(
        f'  - {{extension: "{1000 + i}", business_number: "+4989123{1000 + i}", name: Station {i}}}\n'
        for i in range(n))
    text = re.sub(r"stations:\n(  - .*\n)+", stations, text)
    text = text.replace("channels: 4", f"channels: {n}").replace('desk: "201"', 'desk: "1000"')
    path = tmp / "many.yaml"
    path.write_text(text)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000)
    args = ap.parse_args()
    n = args.calls
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        print("bench_console: needs chromium and chromedriver (apt-get install chromium chromium-driver)")
        return 2
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    push_cpu: list[float] = []
    push_bytes: list[int] = []
    real_snapshot, real_diff = console_mod.snapshot, console_mod._diff

    def timed_snapshot(backend: Any) -> Any:
        t0 = time.process_time()
        out = real_snapshot(backend)
        push_cpu.append(time.process_time() - t0)
        return out
    console_mod.snapshot = timed_snapshot   # type: ignore[assignment]
    del real_diff

    with tempfile.TemporaryDirectory() as tmp:
        backend = SimBackend(_profile(n, Path(tmp)), NotifyingWallClock())
        server = BridgeServer(backend, mode="wall", console=True)
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,900"):
            options.add_argument(arg)
        browser = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        try:
            with ServerThread(server) as st:
                t0 = time.perf_counter()
                browser.get(f"http://{st.url}/console")
                _wait(browser, f"return document.querySelectorAll('#stations tbody tr').length === {n}")
                print(f"page shows {n} stations after {time.perf_counter() - t0:.2f} s")
                # a heartbeat in the page: the longest gap between two 16 ms ticks = the worst input delay
                browser.execute_script("window.gap = 0; let last = performance.now();"
                                       "setInterval(() => { const now = performance.now();"
                                       " window.gap = Math.max(window.gap, now - last - 16); last = now; }, 16);"
                                       "window.longTasks = []; new PerformanceObserver(l => l.getEntries()"
                                       ".forEach(e => window.longTasks.push(e.duration)))"
                                       ".observe({type: 'longtask'});")
                console = server.console
                assert console is not None
                ws_send = _count_bytes(console, push_bytes)
                t0 = time.perf_counter()
                st.call(lambda: [backend.parties.call(f"0555{i:06d}", f"+4989123{1000 + i}") for i in range(n)],
                        timeout=120)
                _wait(browser, "return [...document.querySelectorAll('#stations tbody tr')]"
                               f".filter(r => r.children[5].textContent.startsWith('OFFERING')).length === {n}")
                print(f"{n} calls offered: page shows all after {time.perf_counter() - t0:.2f} s")
                t0 = time.perf_counter()
                # in-process changes bypass the bridge's hooks: tell the console (as a bridge request would)
                st.call(lambda: ([backend.parties.go_off_hook(str(1000 + i)) for i in range(n)], console.changed()),
                        timeout=120)
                _wait(browser, "return [...document.querySelectorAll('#externals tbody tr')]"
                               f".filter(r => r.children[2].textContent === 'connected').length === {n}")
                print(f"{n} calls connected ({2 * n} legs, {backend.pbx.trunks_in_use} trunks): page shows all "
                      f"after {time.perf_counter() - t0:.2f} s")
                print(f"worst main-thread delay while updating: {browser.execute_script('return window.gap'):.0f} ms")
                stats = browser.execute_script("return window.consoleStats")
                print(f"page: {stats['updates']} pushes applied, longest {stats['maxMs']:.0f} ms")
                tasks = sorted(browser.execute_script("return window.longTasks"), reverse=True)
                print(f"long tasks (> 50 ms) in the page: {len(tasks)}, longest {[round(t) for t in tasks[:5]]} ms")
                t0 = time.perf_counter()
                browser.execute_script("[...document.querySelectorAll('#externals tbody tr')]"
                                       ".find(r => r.dataset.number === '0555000007')"
                                       ".querySelector('button[data-act=hang_up]').click();")
                _wait(browser, "const r = [...document.querySelectorAll('#externals tbody tr')]"
                               ".find(r => r.dataset.number === '0555000007'); return !r || r.children[2].textContent"
                               " === 'idle';")   # a party with no call left leaves the table
                print(f"click 'Hang up' with {n} calls alive -> page shows idle after "
                      f"{(time.perf_counter() - t0) * 1000:.0f} ms")
                rows = browser.execute_script("return document.querySelectorAll('#ladder tbody tr').length")
                print(f"ladder rows in the page: {rows} (cap {console_mod.LADDER_CAP})")
                ws_send()
        finally:
            browser.quit()
    worst = max(push_cpu) * 1000 if push_cpu else 0.0
    mean = sum(push_cpu) / len(push_cpu) * 1000 if push_cpu else 0.0
    print(f"server snapshot per push: mean {mean:.1f} ms, worst {worst:.1f} ms CPU over {len(push_cpu)} pushes")
    if push_bytes:
        print(f"push frames: {len(push_bytes)}, largest {max(push_bytes) / 1024:.0f} KiB, "
              f"median {sorted(push_bytes)[len(push_bytes) // 2] / 1024:.1f} KiB")
    return 0


def _count_bytes(console: Any, sizes: list[int]) -> Any:
    """Record the size of every push to the viewer(s) from now on; returns a function that stops it."""
    viewers = list(console.viewers)
    originals = []
    for viewer in viewers:
        ws = viewer.ws
        original = ws.send

        async def send(message: Any, _orig: Any = original) -> None:
            sizes.append(len(message))
            await _orig(message)
        ws.send = send
        originals.append((ws, original))

    def stop() -> None:
        for ws, original in originals:
            ws.send = original
    return stop


def _wait(browser: Any, script: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if browser.execute_script(script):
            return
        time.sleep(0.25)
    raise SystemExit(f"bench_console: timed out waiting for: {script}")


if __name__ == "__main__":
    sys.exit(main())
