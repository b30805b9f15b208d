"""The public surface of ``simulator`` is pinned: everything in ``__all__`` exists, nothing private leaks."""

from __future__ import annotations

import simulator


def test_all_names_exist_and_are_sorted_in_groups() -> None:
    for name in simulator.__all__:
        assert hasattr(simulator, name), name
    assert len(set(simulator.__all__)) == len(simulator.__all__)
    assert sorted(simulator.__all__, key=lambda n: (not n.isupper(), n[0].islower(), n)) == simulator.__all__


def test_public_names_are_exported() -> None:
    public = {n for n in vars(simulator) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(simulator.__all__), public - set(simulator.__all__)


def test_top_level_use() -> None:
    pbx = simulator.Provider(simulator.load_profile("profiles/reference.yaml"))
    app, devices, _ = pbx.line_initialize_ex("api test")
    assert devices >= 1
    pbx.line_shutdown(app)
