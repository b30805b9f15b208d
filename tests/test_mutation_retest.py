"""tools/mutation_retest.py: which mutants it re-tests, and the tree it re-tests them in (no mutation run)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "mutation_retest.py"
SCOPE = "conformance/suite/_flows.py"


def _tool(root: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_retest", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", root)
    monkeypatch.setattr(module, "RUN", root / ".mutation-suite")
    monkeypatch.setattr(module, "TREE", root / ".mutation-retest")
    return module


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A working tree with one scope file, and a finished run of it: its copy, its mutated file, its meta."""
    (tmp_path / "conformance/suite").mkdir(parents=True)
    (tmp_path / SCOPE).write_text("def f():\n    return 1\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("x\n", encoding="utf-8")
    (tmp_path / ".gitignore").write_text("/.mutation-suite/\n/.mutation-retest/\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    run = tmp_path / ".mutation-suite"
    (run / "conformance/suite").mkdir(parents=True)
    (run / SCOPE).write_text("def f():\n    return 1\n", encoding="utf-8")
    (run / "mutants/conformance/suite").mkdir(parents=True)
    (run / "mutants" / SCOPE).write_text("# mutated\n", encoding="utf-8")
    codes = {"conformance.suite._flows.x_f__mutmut_1": 1, "conformance.suite._flows.x_f__mutmut_2": 0,
             "conformance.suite._flows.x_f__mutmut_3": None, "conformance.suite._flows.x_f__mutmut_4": 0}
    (run / "mutants" / (SCOPE + ".meta")).write_text(json.dumps({"exit_code_by_key": codes}), encoding="utf-8")
    return tmp_path


def test_only_the_survivors_are_re_tested(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed (1) and not yet evaluated (None) mutants are left alone."""
    assert _tool(repo, monkeypatch).survivors() == ["conformance.suite._flows.x_f__mutmut_2",
                                                    "conformance.suite._flows.x_f__mutmut_4"]


def test_the_tree_is_todays_with_the_runs_mutated_scope(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "tests").mkdir()
    (repo / "tests/test_new.py").write_text("def test_new(): pass\n", encoding="utf-8")   # untracked: counts
    _tool(repo, monkeypatch).build_tree()
    tree = repo / ".mutation-retest"
    assert (tree / SCOPE).read_text(encoding="utf-8") == "# mutated\n"
    assert (tree / "tests/test_new.py").exists() and (tree / "README.md").exists()
    assert not (tree / ".mutation-suite").exists()


def test_a_scope_file_changed_since_the_run_is_refused(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mutants would no longer be today's code: nothing is re-tested, the file is named."""
    (repo / SCOPE).write_text("def f():\n    return 2\n", encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        _tool(repo, monkeypatch).build_tree()
    assert str(stop.value) == (f"mutation_retest: {SCOPE} changed since the run mutated it; "
                               "run the whole scope again")
