"""Run the conformance suite on one profile through all three backends and check they agree.

``sim:`` in-process, ``bridge://`` to an ``ro-conformance serve --clock virtual`` started here on
loopback, and ``tapi32:emulated`` (the ctypes adapter on the emulated tapi32.dll). Each run writes its
reports under OUT/<backend>/; the outcome of every requirement must be the same in the three
results.json files. Exit 0 when they agree, 1 when they do not, 2 when a run could not be made.

Usage: ``python tools/backend_parity.py [--profile profiles/reference.yaml] [--out reports/parity]``
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "ro-conformance"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def run_suite(profile: str, backend: str, out: Path) -> dict[str, str]:
    proc = subprocess.run([str(BIN), "run", "--profile", profile, "--backend", backend, "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    results = out / "results.json"
    if not results.exists():
        sys.exit(f"parity: {backend}: no results.json (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(results.read_text(encoding="utf-8"))
    print(f"  {backend:28s} exit {proc.returncode}  verdict {data['remote_office']['verdict']}"
          f"  route {data['remote_office']['route']}")
    return {t["id"]: t["outcome"] for t in data["tests"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="profiles/reference.yaml")
    parser.add_argument("--out", default="reports/parity")
    args = parser.parse_args()
    out = Path(args.out)
    port = free_port()
    server = subprocess.Popen([str(BIN), "serve", "--profile", args.profile, "--clock", "virtual",
                               "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_listening(port):
            print("parity: the bridge server did not start", file=sys.stderr)
            return 2
        print(f"suite on {args.profile} through three backends:")
        runs = {
            "sim": run_suite(args.profile, "sim", out / "sim"),
            "bridge": run_suite(args.profile, f"bridge://127.0.0.1:{port}", out / "bridge"),
            "tapi32:emulated": run_suite(args.profile, "tapi32:emulated", out / "tapi32"),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
    ids = sorted(set().union(*runs.values()))
    differing = [i for i in ids if len({r.get(i, "missing") for r in runs.values()}) > 1]
    for test_id in ids:
        row = "  ".join(f"{runs[b].get(test_id, 'missing'):15s}" for b in runs)
        print(f"  {test_id:14s} {row}{'  <-- differs' if test_id in differing else ''}")
    if differing:
        print(f"parity: {len(differing)} requirement(s) differ between backends", file=sys.stderr)
        return 1
    print(f"parity: all {len(ids)} requirements agree on sim, bridge and tapi32:emulated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
