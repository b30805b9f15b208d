"""Errors raised on purpose by the simulator and the conformance kit.

::

    TapiError(Exception)                     base of everything we raise on purpose
    ├── LineError(TapiError)                 a TAPI LINEERR_* result, with the function that gave it
    ├── ProfileError(TapiError, ValueError)  a profile is broken; lists every problem at once
    ├── BackendUnavailable(TapiError)        a backend spec names nothing usable here
    └── BridgeError(TapiError)               the bridge transport failed (never disguised as a LINEERR)

A synchronous TAPI failure raises ``LineError``; an asynchronous one arrives as a LINE_REPLY message
whose ``param2`` is the negative LONG of the code, exactly as on Windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BackendUnavailable",
    "BridgeError",
    "LineError",
    "ProfileError",
    "ProfileProblem",
    "TapiError",
]


class TapiError(Exception):
    """Base class of every error this project raises on purpose."""


class LineError(TapiError):
    """A TAPI function failed with a ``LINEERR_*`` code.

    ``str()`` reads ``"lineDrop: LINEERR_INVALCALLSTATE (0x8000001C)"`` plus an optional detail.
    """

    def __init__(self, code: int, function: str | None = None, detail: str = "") -> None:
        self.code = int(code) & 0xFFFFFFFF
        self.function = function
        self.detail = detail
        super().__init__(self._text())

    @property
    def name(self) -> str:
        from simulator._constants import LineErr

        try:
            return LineErr(self.code).tapi_name
        except ValueError:
            return f"LINEERR_0x{self.code:08X}"

    def _text(self) -> str:
        head = f"{self.function}: " if self.function else ""
        tail = f" - {self.detail}" if self.detail else ""
        return f"{head}{self.name} (0x{self.code:08X}){tail}"

    def __reduce__(self) -> tuple[type[LineError], tuple[int, str | None, str]]:
        return (LineError, (self.code, self.function, self.detail))


@dataclass(frozen=True)
class ProfileProblem:
    """One problem found in a profile: where it is and what is wrong."""

    file: str
    line: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        key = self.key_path or "<document>"
        return f"{where}: {key}: {self.message}"


class ProfileError(TapiError, ValueError):
    """A profile could not be loaded; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[ProfileProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[ProfileError], tuple[tuple[ProfileProblem, ...]]]:
        return (ProfileError, (self.problems,))


class BackendUnavailable(TapiError):
    """A backend spec names a backend that does not exist or cannot run on this machine."""


class BridgeError(TapiError):
    """The network bridge failed at the transport level (connection lost, bad frame, timeout)."""
