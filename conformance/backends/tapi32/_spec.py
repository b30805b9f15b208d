"""What follows ``tapi32:`` in a backend spec.

* ``tapi32:`` or ``tapi32:dll`` - Windows' own ``tapi32.dll``;
* ``tapi32:emulated[:PROFILE][?key=value&...]`` - the tapi32 double over the simulator; options
  ``pbx=simulator|realistic`` (a tidy simulator TSP, or one that behaves like a vendor's) and
  ``clock=virtual|wall`` (virtual time, or real time through the adapter's real-DLL code path);
* ``tapi32:PATH`` - any library with tapi32's exports (a given ``tapi32.dll`` on Windows, a shared
  library built against ``tapi.h`` with ``-fshort-wchar`` elsewhere; docs/windows.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qsl

from simulator._errors import BackendUnavailable

__all__ = ["Tapi32Spec", "parse_spec"]

_OPTIONS: Final = {"pbx": ("simulator", "realistic"), "clock": ("virtual", "wall")}


@dataclass(frozen=True)
class Tapi32Spec:
    kind: str                                   # "dll", "emulated" or "path"
    path: str | None = None
    profile: str | None = None
    options: dict[str, str] = field(default_factory=dict)


def parse_spec(target: str) -> Tapi32Spec:
    """Parse ``target``; ``BackendUnavailable`` naming the bad option and the allowed values."""
    target = target.strip()
    if target in ("", "dll"):
        return Tapi32Spec("dll")
    head, _, query = target.partition("?")
    kind, _, rest = head.partition(":")
    if kind != "emulated":
        if query:
            raise BackendUnavailable(f"tapi32:{target}: options (?...) apply only to tapi32:emulated")
        return Tapi32Spec("path", path=target)
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in _OPTIONS or value not in _OPTIONS[key]:
            allowed = "; ".join(f"{k}={'|'.join(v)}" for k, v in _OPTIONS.items())
            raise BackendUnavailable(f"tapi32:{target}: unknown option {key}={value!r} (allowed: {allowed})")
        options[key] = value
    return Tapi32Spec("emulated", profile=rest or None, options=options)
