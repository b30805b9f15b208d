"""The exceptions a conformance test raises to say *which* verdict it reached, and why.

ISO 9646 / TTCN verdicts (design.md §6) map onto exception types, so a test body stays linear and the
plugin classifies whatever ended it::

    NotHonoured(AssertionError)   fail          the PBX did not do what the profile claims
    Inconclusive(Exception)       inconclusive  a party did not play along (never answered, ...)
    HarnessError(Exception)       error         the harness or the backend broke (lost reply, ...)
      HarnessTimeout                            a wait the harness needs ran out (e.g. LINE_REPLY)
      PreconditionError                         the line was not clean before / could not be after
    NotApplicable(Skipped)        not-applicable the profile says the PBX does not offer it

Any other exception is an error too (a ``LineError`` nobody expected, a bug in a test); a bare
``assert`` is a fail. Every message names the step, what was waited for and for how long.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["HarnessError", "HarnessTimeout", "Inconclusive", "NotApplicable", "NotHonoured",
           "PreconditionError", "cites_of"]


def cites_of(exc: BaseException) -> tuple[Any, ...]:
    """The records a verdict exception cites (``LineSession.verdict`` sets ``cites``; conformance._evidence)."""
    return tuple(getattr(exc, "cites", ()))


class NotHonoured(AssertionError):
    """The PBX did not honour a claim of its profile: the requirement fails."""


class Inconclusive(Exception):
    """The requirement could not be judged because a remote party did not act (ISO 9646 INCONC)."""


class HarnessError(Exception):
    """The harness or the backend failed; says nothing about the PBX (verdict: error)."""


class HarnessTimeout(HarnessError):
    """A wait the harness depends on (a LINE_REPLY, a clean line) ran out of time."""


class PreconditionError(HarnessError):
    """The desk line was not in the state a test needs, or could not be put back afterwards."""


class NotApplicable(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """The profile says the PBX does not offer what the test checks (never a failure).

    A subclass of pytest's skip exception so that plain pytest counts it as skipped.
    """

    def __init__(self, msg: str, claims: tuple[str, ...] = ()) -> None:
        super().__init__(msg=f"not applicable: {msg}", allow_module_level=False)
        self.reason = msg
        self.claims = claims     # the tapi_requires claims the profile does not make (empty: not from claims)
