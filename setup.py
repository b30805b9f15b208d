"""Build step the declarative pyproject.toml cannot express: ship the top-level ``profiles/`` folder.

The folder stays where users and the docs expect it (``profiles/*.yaml`` in the checkout); a wheel gets a
copy inside the package as ``conformance/shipped_profiles/`` (subfolders included), where
``conformance._shipped`` finds it. Editable installs read ``profiles/`` in place and need no copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithProfiles(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = HERE / "profiles"
        target = Path(self.build_lib) / "conformance" / "shipped_profiles"
        shutil.rmtree(target, ignore_errors=True)
        for path in sorted(source.rglob("*.yaml")):
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)


setup(cmdclass={"build_py": BuildPyWithProfiles})
