"""The TAPI service provider (tsp/, issue 16) under Wine: built with mingw-w64, driven by the TSPI harness.

``make -C tsp`` builds ``rotsp.tsp`` and ``tspi_harness.exe`` for x86-64 and i686. The harness
(tsp/harness/tspi_harness.c) plays TAPISRV: it loads the x86-64 TSP with LoadLibrary under wine64 and drives
it against a real ``ro-conformance serve --clock wall`` on loopback (the TSP's events are pushed by the
bridge: docs/bridge.md "Push events"), checking TSPI's rules and the Remote Office flows (docs/tsp.md).
Wine's own tapi32 is stubs, hence the harness. A second run (scenario ``reconnect``) starts with no bridge,
then this test starts, stops and restarts the server when the harness says so. Skipped with the reason only
when mingw-w64, make or wine64 is absent; the i686 build is checked by its export and import tables (no
wine32 to run it).
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tsp_build import make_tsp

ROOT = Path(__file__).resolve().parent.parent
TSP = ROOT / "tsp"
REFERENCE = ROOT / "profiles" / "reference.yaml"
BUILD = TSP / "build"
# Debian 12 puts the 64-bit loader in /usr/lib/wine (its /usr/bin/wine wrapper prefers wine32 and asks for it).
WINE64_CANDIDATES = ("wine64", "/usr/lib/wine/wine64")
# Every DLL the TSP may import: system DLLs only (tsp/CONTRACT.md); msvcrt is mingw-w64's C runtime.
SYSTEM_DLLS = {"kernel32.dll", "user32.dll", "advapi32.dll", "ws2_32.dll", "bcrypt.dll", "msvcrt.dll"}
# What TAPISRV looks up by name: the harness fails on a missing one too, this checks the i686 names are plain.
REQUIRED_EXPORTS = {"TSPI_providerEnumDevices", "TSPI_providerInit", "TSPI_providerShutdown",
                    "TSPI_lineNegotiateTSPIVersion", "TSPI_lineOpen", "TSPI_lineClose", "TSPI_lineMakeCall",
                    "TSPI_lineGetDevCaps", "TSPI_lineGetAddressCaps", "TUISPI_providerInstall",
                    "TUISPI_providerConfig", "TUISPI_providerRemove"}


def _wine64() -> str | None:
    for cand in WINE64_CANDIDATES:
        found = shutil.which(cand) if "/" not in cand else (cand if os.access(cand, os.X_OK) else None)
        if found:
            return found
    return None


def _missing_tools() -> str | None:
    for tool in ("x86_64-w64-mingw32-gcc", "i686-w64-mingw32-gcc", "make"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: gcc-mingw-w64-x86-64 gcc-mingw-w64-i686 make)"
    return None


@pytest.fixture(scope="module")
def built() -> Path:
    """``make -C tsp`` (both architectures); the build log is the failure message."""
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    t0 = time.monotonic()
    proc = make_tsp()
    assert proc.returncode == 0, f"make -C tsp failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    print(f"\nmake -C tsp: {time.monotonic() - t0:.1f} s")
    for arch in ("x86_64", "i686"):
        for name in ("rotsp.tsp", "tspi_harness.exe"):
            assert (BUILD / arch / name).is_file(), f"make -C tsp did not build tsp/build/{arch}/{name}"
    return BUILD


def _pe_tables(path: Path) -> tuple[set[str], set[str]]:
    """(exported names, imported DLL names lower-case) from ``objdump -p``."""
    objdump = shutil.which("x86_64-w64-mingw32-objdump") or shutil.which("objdump")
    if objdump is None:
        pytest.skip("no objdump to read the PE tables (Debian: binutils-mingw-w64-x86-64)")
    out = subprocess.run([objdump, "-p", str(path)], capture_output=True, text=True, timeout=60, check=True).stdout
    imports = {m.lower() for m in re.findall(r"DLL Name: (\S+)", out)}
    export_part = out.split("[Ordinal/Name Pointer] Table", 1)[1] if "[Ordinal/Name Pointer] Table" in out else ""
    exports = set(re.findall(r"\]\s+(\S+)\s*$", export_part, flags=re.M))
    return exports, imports


@pytest.mark.parametrize("arch", ["x86_64", "i686"])
def test_the_tsp_exports_plain_tspi_names_and_imports_only_system_dlls(built: Path, arch: str) -> None:
    exports, imports = _pe_tables(built / arch / "rotsp.tsp")
    missing = sorted(REQUIRED_EXPORTS - exports)
    assert not missing, f"{arch} rotsp.tsp does not export {missing} (exports: {sorted(exports)})"
    decorated = sorted(e for e in exports if "@" in e)
    assert not decorated, f"{arch} rotsp.tsp exports stdcall-decorated names {decorated}: TAPISRV looks up plain ones"
    assert imports <= SYSTEM_DLLS, f"{arch} rotsp.tsp imports non-system DLLs {sorted(imports - SYSTEM_DLLS)}"


@pytest.fixture
def bridge() -> Iterator[tuple[str, list[str]]]:
    """``ro-conformance serve --clock wall`` on a free loopback port: (URL, its stderr lines so far)."""
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "serve", "--clock", "wall",
                             "--listen", "127.0.0.1:0", "--profile", str(REFERENCE)],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "RO_CONFORMANCE_TOKEN": "", "RO_CONFORMANCE_TOKEN_FILE": ""})
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        lines.append(banner)
        match = re.search(r"ws://[^/\s]+/", banner)
        assert match, f"ro-conformance serve did not print its address: {banner!r}"
        stderr = proc.stderr

        def drain() -> None:   # keep reading so the server never blocks on a full pipe
            for line in stderr:
                lines.append(line)
        threading.Thread(target=drain, daemon=True).start()
        yield match.group(0), lines
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _windows_path(p: Path) -> str:
    """Wine maps the Unix root to drive Z:."""
    return "Z:" + str(p.resolve()).replace("/", "\\")


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """(wine64 loader, environment with a fresh WINEPREFIX created by ``wineboot --init``)."""
    loader = _wine64()
    if loader is None:
        pytest.skip("wine64 is not installed (Debian: wine64): the TSPI harness runs the TSP under Wine")
    env = {**os.environ, "WINEPREFIX": str(tmp_path_factory.mktemp("wine") / "prefix"), "WINEDEBUG": "-all",
           "WINEDLLOVERRIDES": "mscoree,mshtml=",   # no Mono / Gecko installer on first start
           "RO_TSP_TOKEN": "", "RO_TSP_UI": "none"}
    env.pop("DISPLAY", None)   # no window: nothing here needs one
    env.pop("RO_TSP_BRIDGE", None)
    wineserver = shutil.which("wineserver") or next(
        (p for p in ("/usr/lib/wine/wineserver64", "/usr/lib/wine/wineserver") if os.access(p, os.X_OK)), None)
    try:
        t0 = time.monotonic()
        boot = subprocess.run([loader, "wineboot", "--init"], env=env, capture_output=True, text=True, timeout=600)
        assert boot.returncode == 0, f"wineboot --init failed ({boot.returncode}): {boot.stderr[-3000:]}"
        print(f"\nwine prefix created in {time.monotonic() - t0:.1f} s")
        yield loader, env
    finally:
        if wineserver:   # the prefix's wineserver lingers a few seconds after the last process: end it now
            subprocess.run([wineserver, "-k"], env=env, capture_output=True, timeout=60, check=False)


def _harness_cmd(loader: str, built: Path, url: str, *extra: str) -> list[str]:
    return [loader, _windows_path(built / "x86_64" / "tspi_harness.exe"),
            _windows_path(built / "x86_64" / "rotsp.tsp"), url, *extra]


def test_the_tsp_passes_the_tspi_harness_under_wine64(built: Path, wine: tuple[str, dict[str, str]],
                                                       bridge: tuple[str, list[str]]) -> None:
    loader, env = wine
    url, server_log = bridge
    t0 = time.monotonic()
    run = subprocess.run(_harness_cmd(loader, built, url), env={**env, "RO_TSP_BRIDGE": url}, capture_output=True,
                         text=True, timeout=600, errors="replace")
    print(f"\nharness ran in {time.monotonic() - t0:.1f} s\n{run.stdout}")
    report = (f"tspi_harness exited {run.returncode}\n--- harness output ---\n{run.stdout}\n--- harness stderr "
              f"---\n{run.stderr[-4000:]}\n--- bridge stderr ---\n{''.join(server_log)[-4000:]}")
    assert run.returncode == 0, report
    assert "SUMMARY" in run.stdout and "\nFAIL " not in "\n" + run.stdout, report
    passed = re.search(r"SUMMARY (\d+) passed, 0 failed", run.stdout)
    assert passed and int(passed.group(1)) >= 100, report   # the flows really ran, not just start-up (120 checks)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int, profile: Path = REFERENCE) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "serve", "--clock", "wall",
                             "--listen", f"127.0.0.1:{port}", "--profile", str(profile)],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "RO_CONFORMANCE_TOKEN": "", "RO_CONFORMANCE_TOKEN_FILE": ""})
    assert proc.stderr is not None
    banner = proc.stderr.readline()   # printed once it listens
    assert f":{port}/" in banner, banner
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    return proc


def _stop(proc: subprocess.Popen[str] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_the_tsp_survives_a_bridge_down_at_start_lost_and_back(built: Path, wine: tuple[str, dict[str, str]]) -> None:
    """Bridge down at start: no lines, then LINE_CREATE when it comes up; lost: LINE_CLOSE; back: lineOpen works.

    The harness (scenario ``reconnect``) prints READY lines; this test starts and stops the server on them.
    """
    loader, env = wine
    port = _free_port()
    url = f"ws://127.0.0.1:{port}/"
    harness = subprocess.Popen(_harness_cmd(loader, built, url, "reconnect"), env={**env, "RO_TSP_BRIDGE": url},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    lines: queue.Queue[str] = queue.Queue()
    out: list[str] = []
    assert harness.stdout is not None
    stdout = harness.stdout

    def read() -> None:
        for line in stdout:
            out.append(line)
            lines.put(line)
    threading.Thread(target=read, daemon=True).start()

    def wait_for(marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if lines.get(timeout=max(0.01, deadline - time.monotonic())).startswith(marker):
                    return
            except queue.Empty:
                raise AssertionError(f"the harness did not print {marker!r} within {timeout} s:\n"
                                     f"{''.join(out)}") from None

    server: subprocess.Popen[str] | None = None
    try:
        wait_for("READY bridge-down", 120)      # Wine start-up included
        server = _serve(port)
        wait_for("READY lines-open", 90)
        _stop(server)
        wait_for("READY bridge-lost", 60)
        server = _serve(port)
        rc = harness.wait(120)
    finally:
        _stop(server)
        if harness.poll() is None:
            harness.kill()
            harness.wait(10)
    text = "".join(out)
    print(f"\n{text}")
    assert rc == 0 and "\nFAIL " not in "\n" + text, f"tspi_harness reconnect exited {rc}:\n{text}"
    for check in ("reconnect.enumerate-bridge-down", "reconnect.LINE_CREATE", "reconnect.LINE_CLOSE",
                  "reconnect.reopen"):
        assert f"PASS {check} " in text, f"{check} did not pass:\n{text}"


def test_the_tsp_passes_the_providers_line_status_through(built: Path, wine: tuple[str, dict[str, str]]) -> None:
    """TSPI_lineGetLineDevStatus reports the provider's LINEDEVSTATUS, not a made-up one: on a profile whose desk
    line is out of service (profiles/mutants/desk-out-of-service.yaml) it reads CONNECTED without INSERVICE,
    which is how the suite tells the installation from a refusal (docs/tapi.md §2.9)."""
    loader, env = wine
    port = _free_port()
    server = _serve(port, ROOT / "profiles" / "mutants" / "desk-out-of-service.yaml")
    try:
        url = f"ws://127.0.0.1:{port}/"
        run = subprocess.run(_harness_cmd(loader, built, url, "out-of-service"), env={**env, "RO_TSP_BRIDGE": url},
                             capture_output=True, text=True, timeout=300, errors="replace")
    finally:
        _stop(server)
    report = f"tspi_harness exited {run.returncode}\n{run.stdout}\n{run.stderr[-3000:]}"
    assert run.returncode == 0 and "\nFAIL " not in "\n" + run.stdout, report
    assert re.search(r"^PASS lineGetLineDevStatus .*dwDevStatusFlags 0x1 ", run.stdout, re.MULTILINE), report
