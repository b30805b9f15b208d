"""``sim:PROFILE`` - the simulator in-process, on a virtual clock (the default backend).

It is the provider itself plus party control; waiting in ``line_get_message`` or ``parties.wait_for``
is what moves virtual time, so a 30-second wait costs microseconds and every run is deterministic.
"""

from __future__ import annotations

import os
from typing import Any

from simulator._clock import Clock
from simulator._errors import BackendUnavailable
from simulator._parties import SimParties
from simulator._profile import load_profile
from simulator._profile_model import Profile
from simulator._provider import Provider

__all__ = ["SimBackend"]


class SimBackend(Provider):
    name = "sim"

    def __init__(self, profile: Profile | str | os.PathLike[str], clock: Clock | None = None) -> None:
        super().__init__(profile if isinstance(profile, Profile) else load_profile(profile), clock)
        self.parties = SimParties(self)

    @classmethod
    def from_spec(cls, target: str, profile: Profile | None) -> SimBackend:
        """``sim:`` uses the run's profile; ``sim:PATH`` loads PATH instead."""
        if target:
            return cls(target)
        if profile is None:
            raise BackendUnavailable("sim: needs a profile (sim:PATH or --profile)")
        return cls(profile)

    def now(self) -> float:
        return self.clock.now()

    def close(self) -> None:
        for app in list(self.apps):
            self.line_shutdown(app)

    def info(self) -> dict[str, Any]:
        return {"backend": "sim", **super().info()}
