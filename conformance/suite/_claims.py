"""Profile claims (PICS) that gate a conformance test: ``@pytest.mark.tapi_requires("blind_transfer")``.

Each claim is a name (or ``trunks>=N``) answered from the profile, together with the profile key it
came from, so a not-applicable verdict can say exactly which line of the profile made it so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from simulator._profile_model import Profile

__all__ = ["CLAIMS", "check_claim", "unmet", "unmet_claims"]

_Check = Callable[[Profile], bool]

# claim -> (test on the profile, profile key that answers it)
CLAIMS: dict[str, tuple[_Check, str]] = {
    "forwarding": (lambda p: p.capabilities.forwarding is not None
                   and "UNCOND" in p.capabilities.forwarding.modes, "capabilities.forwarding.modes"),
    "forwarding_query": (lambda p: p.capabilities.forwarding is not None and p.capabilities.forwarding.query,
                         "capabilities.forwarding.query"),
    # an honest "cannot be cancelled" (capabilities.forwarding.clear: false) gates the clear requirements
    "forwarding_clear": (lambda p: p.capabilities.forwarding is not None and p.capabilities.forwarding.clear,
                         "capabilities.forwarding.clear"),
    "forwarding_events": (lambda p: p.capabilities.forwarding is not None
                          and p.capabilities.forwarding.status_events, "capabilities.forwarding.status_events"),
    "auto_origination": (lambda p: p.capabilities.origination == "auto", "capabilities.origination"),
    "blind_transfer": (lambda p: p.capabilities.transfer.blind, "capabilities.transfer.blind"),
    "consultation": (lambda p: p.capabilities.transfer.consultation, "capabilities.transfer.consultation"),
    "consultation_in_ringing": (lambda p: p.capabilities.transfer.consultation and bool(
        {"ringback", "proceeding"} & set(p.capabilities.transfer.complete_in)),
        "capabilities.transfer.complete_in"),
    "native": (lambda p: p.capabilities.native_remote_office.mechanism != "none",
               "capabilities.native_remote_office.mechanism"),
    # Remote Office needs the called party to see the business number; a PBX that declares another
    # presentation on a path does not offer Remote Office on that path (not applicable, not a fail).
    "business_number_on_blind": (lambda p: p.capabilities.caller_id.blind_transfer == "business",
                                 "capabilities.caller_id.blind_transfer"),
    "business_number_on_consult": (lambda p: p.capabilities.caller_id.consult_transfer == "business",
                                   "capabilities.caller_id.consult_transfer"),
    "business_number_on_direct": (lambda p: p.capabilities.caller_id.direct == "business",
                                  "capabilities.caller_id.direct"),
}
_TRUNKS = re.compile(r"^trunks\s*>=\s*(\d+)$")


def _value(profile: Profile, key: str) -> object:
    node: object = profile.capabilities
    for part in key.split(".")[1:]:
        node = getattr(node, part, None) if node is not None else None
    return node


def check_claim(profile: Profile, claim: str) -> tuple[bool, str]:
    """(met, reason) for one claim; the reason cites the profile key and its value."""
    m = _TRUNKS.match(claim.strip())
    if m:
        need = int(m.group(1))
        return profile.trunks >= need, f"profile {profile.name}: trunks.channels = {profile.trunks} (needs >= {need})"
    if claim not in CLAIMS:
        known = ", ".join([*sorted(CLAIMS), "trunks>=N"])
        raise ValueError(f"unknown tapi_requires claim {claim!r}; known: {known}")
    test, key = CLAIMS[claim]
    shown = "null" if profile.capabilities.forwarding is None and key.startswith("capabilities.forwarding") \
        else repr(_value(profile, key))
    return bool(test(profile)), f"profile {profile.name}: {key} = {shown} (needs {claim})"


def unmet_claims(profile: Profile, claims: Iterable[str]) -> list[str]:
    """The reasons of every claim the profile does not make (empty: the test applies)."""
    return [reason for _, reason in unmet(profile, claims)]


def unmet(profile: Profile, claims: Iterable[str]) -> list[tuple[str, str]]:
    """(claim, reason) of every claim the profile does not make, in the order given."""
    return [(c, reason) for c in claims for met, reason in [check_claim(profile, c)] if not met]
