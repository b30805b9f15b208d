"""Putting the desk's forwarding back as it was: only what lineForward can be given again.

``lineGetAddressStatus`` reports forwarding entries with any LINEFORWARDMODE, including UNKNOWN
(forwarded, but the TSP cannot say how) and UNAVAIL (forwarded, but the mode is not available to the
application); neither may be passed to ``lineForward`` (docs/tapi.md §5.6, §8.4). An entry is restored
only when its mode is one the address lists in LINEADDRESSCAPS ``dwForwardModes``; the rest are
reported, since the desk's forwarding then cannot be put back exactly.
"""

from __future__ import annotations

from simulator._constants import LineForwardMode
from simulator._structs import LineForward

__all__ = ["restorable_forwards"]

_NEVER_SENT = int(LineForwardMode.UNKNOWN | LineForwardMode.UNAVAIL)


def restorable_forwards(entries: tuple[LineForward, ...], forward_modes: int
                        ) -> tuple[tuple[LineForward, ...], list[str]]:
    """(entries lineForward may be given, a note per entry left out) for an address's ``dwForwardModes``."""
    kept: list[LineForward] = []
    dropped: list[str] = []
    for entry in entries:
        mode = entry.forward_mode
        if mode & _NEVER_SENT or not mode & forward_modes or mode & (mode - 1):
            name = LineForwardMode(mode).name if mode in LineForwardMode._value2member_map_ else f"0x{mode:08X}"
            dropped.append(f"forwarding {name} to {entry.dest_address!r} (not in dwForwardModes "
                           f"0x{forward_modes:08X}) cannot be restored")
            continue
        kept.append(entry)
    return tuple(kept), dropped
