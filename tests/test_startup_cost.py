"""The pytest plugin loads in every pytest run of an environment: it must not drag the simulator in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_loading_the_plugin_does_not_load_the_simulator_engine_or_the_profile_loader() -> None:
    probe = ("import sys, conformance.plugin, simulator; "
             "print(sorted(m for m in ('transitions', 'jsonschema', 'yaml', 'websockets', "
             "'simulator._provider', 'simulator._profile') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_public_names_still_resolve_on_first_use() -> None:
    probe = "import simulator; print(simulator.Provider.__name__, simulator.load_profile.__module__)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["Provider", "simulator._profile"]


def test_the_run_command_does_not_load_the_bridge_server() -> None:
    """``ro-conformance run`` on the simulator imports only its own subcommand: no asyncio, no websockets."""
    probe = ("import sys; from conformance.cli import _parser; _parser(['run', '--help']); "
             "import conformance.cli._run; "
             "print(sorted(m for m in ('asyncio', 'websockets', 'conformance.bridge.server', "
             "'conformance.cli._serve') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_run_on_the_simulator_does_not_load_the_tapi32_adapter(tmp_path: Path) -> None:
    """Up to the suite itself (stubbed here), ``run`` on ``sim`` imports neither tapi32 nor the bridge."""
    probe = ("import sys\n"
             "import conformance.cli._run as r\n"
             "r.run_suite = lambda *a, **k: r.RunOutcome(0, None, r.Path('.'), 'stub')\n"
             "from conformance.cli import main\n"
             f"assert main(['run', '--out', {str(tmp_path)!r}]) == 0\n"
             "print(sorted(m for m in sys.modules if m.startswith(('conformance.backends.tapi32', "
             "'conformance.bridge', 'asyncio', 'websockets'))))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
