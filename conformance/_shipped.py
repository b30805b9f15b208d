"""The profiles shipped with the product, found by name (``reference``, ``blind-only``, ``mutants/x``).

A wheel carries them as data inside the package (``conformance/shipped_profiles/``, copied from the
top-level ``profiles/`` folder at build time by ``setup.py``); a checkout or an editable install reads the
``profiles/`` folder next to the package. Names are the file's path below that folder without ``.yaml``,
with forward slashes, so subfolders (``mutants/``, ``vendors/``) work the same everywhere.

Only ``pathlib`` here: the pytest plugin resolves ``--tapi-profile NAME`` through this module in every
pytest run of the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["DEFAULT_PROFILE", "ShippedProfileError", "resolve_profile", "shipped_dir", "shipped_profiles"]

DEFAULT_PROFILE: Final = "reference"
PACKAGED_DIR: Final = "shipped_profiles"     # inside the conformance package of a wheel
_SUFFIXES: Final = (".yaml", ".yml")


class ShippedProfileError(Exception):
    """A profile argument is neither an existing file nor the name of a shipped profile."""


def shipped_dir() -> Path | None:
    """The folder holding the shipped profiles: the wheel's copy first, else the checkout's ``profiles/``."""
    package = Path(__file__).resolve().parent
    for candidate in (package / PACKAGED_DIR, package.parent / "profiles"):
        if (candidate / f"{DEFAULT_PROFILE}.yaml").is_file():
            return candidate
    return None


def shipped_profiles() -> dict[str, Path]:
    """Name -> file of every shipped profile, sorted by name (empty when none are installed)."""
    root = shipped_dir()
    if root is None:
        return {}
    found = {}
    for path in root.rglob("*"):
        if path.suffix in _SUFFIXES and path.is_file():
            found[path.relative_to(root).with_suffix("").as_posix()] = path
    return dict(sorted(found.items()))


def resolve_profile(given: str) -> str:
    """The file to load for a ``--profile`` argument: an existing path as given, else a shipped name.

    ``"reference"``, ``"reference.yaml"`` and ``"mutants/xyz"`` name shipped profiles; a path that exists
    always wins over a name. Raises ``ShippedProfileError`` listing the shipped names when neither fits.
    """
    if Path(given).is_file():
        return given
    if Path(given).is_dir():    # not "not found": it exists, it is just not one profile
        raise ShippedProfileError(f"profile {given} is a directory; give one profile file (YAML) or a shipped "
                                  "name ('ro-conformance profiles' lists them)")
    name = given.replace("\\", "/")
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    shipped = shipped_profiles()
    if name in shipped:
        return str(shipped[name])
    names = ", ".join(shipped) or "none installed"
    raise ShippedProfileError(f"profile not found: {given} is neither a file nor a shipped profile "
                              f"(shipped: {names})")
