"""The how-to examples in examples/ run as tests, so the README's snippets cannot go stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_transfers_while_ringing_and_target_sees_business_number(monkeypatch: object) -> None:
    quickstart = _load("quickstart")
    log = quickstart.main(str(ROOT / "profiles" / "reference.yaml"))  # type: ignore[attr-defined]
    assert any("LINECALLSTATE_ONHOLDPENDTRANSFER" in line for line in log)
    assert log[-1].startswith("target: ")
    assert "presented_number='+49891234201'" in log[-1]
    assert "connected_number='01711234567'" in log[-1]
