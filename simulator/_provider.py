"""The TAPI provider of the simulator (``Provider``); see ``_provider_core`` and ``_callcontrol``."""

from simulator._callcontrol import Provider

__all__ = ["Provider"]
