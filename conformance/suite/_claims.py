"""Profile claims (PICS) that gate a conformance test: ``@pytest.mark.tapi_requires("blind_transfer")``.

Each claim is a name (or ``trunks>=N``) answered from the profile, together with the profile key it
came from, so a not-applicable verdict can say exactly which line of the profile made it so.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable

from simulator._profile_model import Forwarding, Profile

__all__ = ["CLAIMS", "UNDOCUMENTED_PREFIX", "as_if_offered", "check_claim", "undocumented_claims", "unmet",
           "unmet_claims"]

# Reasons of requirements not judged because the profile leaves a claim undocumented start with this;
# the matrix and the report show them as "not documented" (docs/profiles.md, "Undocumented claims").
UNDOCUMENTED_PREFIX = "not documented:"

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
    """The reasons of every claim the profile does not make (empty: the test applies).

    An undocumented key counts as not offered here (it is, on the simulator); ask ``undocumented_claims``
    first to tell "no source decides" from "documented as not offered".
    """
    return [reason for _, reason in unmet(profile, claims)]


def unmet(profile: Profile, claims: Iterable[str]) -> list[tuple[str, str]]:
    """(claim, reason) of every claim the profile does not make, in the order given."""
    return [(c, reason) for c in claims for met, reason in [check_claim(profile, c)] if not met]


# What an undocumented key would be if the PBX did offer it: a claim that fails even then is decided by
# what *is* documented (not offered); one that holds only then rests on the undocumented key.
_OFFERED: dict[str, object] = {
    "trunks.channels": 1 << 16,
    "capabilities.forwarding": Forwarding(),
    "capabilities.forwarding.query": True,
    "capabilities.forwarding.status_events": True,
    "capabilities.forwarding.clear": True,
    "capabilities.origination": "auto",
    "capabilities.transfer.blind": True,
    "capabilities.transfer.consultation": True,
    "capabilities.transfer.complete_in": ("connected", "ringback", "proceeding"),
    "capabilities.native_remote_office.mechanism": "devspecific",
    "capabilities.caller_id.direct": "business",
    "capabilities.caller_id.blind_transfer": "business",
    "capabilities.caller_id.consult_transfer": "business",
    "capabilities.caller_id.forwarded": "business",
}


def _replaced(node: object, parts: list[str], value: object) -> object:
    if not parts:
        return value
    if node is None:        # e.g. forwarding undocumented and its query too: already offered above
        return None
    head, *rest = parts
    return dataclasses.replace(node, **{head: _replaced(getattr(node, head), rest, value)})  # type: ignore[type-var]


def as_if_offered(profile: Profile) -> Profile:
    """``profile`` with every undocumented key set to the value that offers it (see ``_OFFERED``)."""
    out = profile
    for key in sorted(profile.undocumented, key=len):      # a section before the keys inside it
        if key == "trunks.channels":
            out = dataclasses.replace(out, trunks=int(_OFFERED[key]))   # type: ignore[call-overload]
        else:
            caps = _replaced(out.capabilities, key.split(".")[1:], _OFFERED[key])
            out = dataclasses.replace(out, capabilities=caps)         # type: ignore[arg-type]
    return out


def undocumented_claims(profile: Profile, claims: Iterable[str]) -> list[str]:
    """Reasons for every claim that only an undocumented key of the profile could make hold.

    Empty when the profile marks nothing undocumented, or when what is documented already decides every
    claim (met, or not offered whatever the undocumented keys say). Each reason starts with
    ``UNDOCUMENTED_PREFIX`` and names the keys, so reports can tell "not documented" from "not offered".
    """
    if not profile.undocumented:
        return []
    offered = as_if_offered(profile)
    out = []
    for claim in claims:
        if check_claim(profile, claim)[0] or not check_claim(offered, claim)[0]:
            continue
        keys = sorted(k for k in profile.undocumented if check_claim(offered, claim)[0]
                      and not check_claim(_without(offered, profile, k), claim)[0])
        out.append(f"{UNDOCUMENTED_PREFIX} profile {profile.name}: {', '.join(keys) or 'some key'} = undocumented "
                   f"(no source decides {claim}; not judged)")
    return out


def _without(offered: Profile, profile: Profile, key: str) -> Profile:
    """``offered`` with ``key`` back at its simulated (not offered) value: does the claim rest on ``key``?"""
    others = dataclasses.replace(profile, undocumented=profile.undocumented - {key})
    return as_if_offered(others)
