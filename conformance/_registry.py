"""Backends by spec string, found in a registry open to entry points and imported lazily.

``sim:PROFILE`` (default; PROFILE defaults to the run's profile), ``bridge://HOST:PORT``, ``tapi32:``
(``tapi32:emulated`` drives the emulated DLL on any OS), ``replay:PATH`` (a recorded ``trace.jsonl`` played
back). Third-party backends register under the
entry-point group ``ro_conformance.backends`` as ``name = "module:Class"``. Every backend class offers
``from_spec(target: str, profile: Profile | None) -> Backend`` where ``target`` is what follows the
scheme. Nothing is imported until asked for, so the Windows adapter never loads on Linux.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from simulator._errors import BackendUnavailable
from simulator._profile_model import Profile

__all__ = ["BACKENDS", "available_backends", "backend_class", "open_backend", "split_spec"]

BACKENDS: dict[str, tuple[str, str]] = {
    "sim": ("conformance.backends.sim", "SimBackend"),
    "bridge": ("conformance.backends.bridge", "BridgeBackend"),
    "tapi32": ("conformance.backends.tapi32", "Tapi32Backend"),
    "replay": ("conformance.backends.replay", "ReplayBackend"),
}
GROUP = "ro_conformance.backends"


def _all_backends() -> dict[str, tuple[str, str]]:
    found = dict(BACKENDS)
    for ep in entry_points(group=GROUP):
        module, _, cls = ep.value.partition(":")
        found.setdefault(ep.name, (module, cls))
    return found


def available_backends() -> list[str]:
    return sorted(_all_backends())


def split_spec(spec: str) -> tuple[str, str]:
    """``"bridge://h:p"`` -> ("bridge", "h:p"); ``"sim:x.yaml"`` -> ("sim", "x.yaml"); ``"sim"`` -> ("sim", "")."""
    spec = spec.strip()
    if "://" in spec:
        name, _, rest = spec.partition("://")
    else:
        name, _, rest = spec.partition(":")
    return name.lower(), rest


def backend_class(name: str) -> Any:
    backends = _all_backends()
    if name not in backends:
        raise BackendUnavailable(f"unknown backend {name!r}; available: {', '.join(sorted(backends))}")
    module, cls = backends[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError, OSError) as exc:
        raise BackendUnavailable(f"backend {name!r} cannot be used here ({module}.{cls}): {exc}; "
                                 f"available: {', '.join(sorted(backends))}") from exc


def open_backend(spec: str, profile: Profile | None) -> Any:
    """Make the backend ``spec`` names; raises ``BackendUnavailable`` with what is available."""
    name, target = split_spec(spec or "sim")
    return backend_class(name).from_spec(target, profile)
