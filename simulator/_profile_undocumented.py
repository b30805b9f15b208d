"""Claims that no source decides: ``undocumented`` in a profile (docs/profiles.md, "Undocumented claims").

A profile written from public documentation (``profiles/vendors/``) often cannot say whether the PBX does
something: the vendor's guide is silent. Such a claim is written as the string ``undocumented`` instead of
a value. Two readers need different things from it:

* the **suite** must not judge what rests on it: a requirement gated by an undocumented claim is "not
  judged" (inconclusive, never a pass and never not-applicable), so the verdict cannot come out
  compatible by default nor not-compatible by a guess;
* the **simulator** needs *some* behaviour to play. It plays the claim as not offered (the reading that
  can never make a PBX look better than its documentation), taken from ``SIMULATED_AS`` below.

``resolve(raw)`` does both halves of the bookkeeping: it returns the document with every ``undocumented``
replaced by the value simulated, and the dotted keys that were undocumented (``Profile.undocumented``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["SIMULATED_AS", "UNDOCUMENTED", "resolve"]

UNDOCUMENTED: Final = "undocumented"

# dotted key -> what the simulator plays when the profile says "undocumented" (always "not offered")
SIMULATED_AS: Final[Mapping[str, Any]] = {
    "trunks.channels": 1,
    "capabilities.forwarding": None,
    "capabilities.forwarding.query": False,
    "capabilities.forwarding.status_events": False,
    "capabilities.forwarding.clear": False,
    "capabilities.origination": "prompt_offering",
    "capabilities.transfer.blind": False,
    "capabilities.transfer.consultation": False,
    "capabilities.transfer.complete_in": ["connected"],   # [] when consultation is not offered, below
    "capabilities.native_remote_office.mechanism": "none",
    "capabilities.caller_id.direct": "withheld",
    "capabilities.caller_id.blind_transfer": "withheld",
    "capabilities.caller_id.consult_transfer": "withheld",
    "capabilities.caller_id.forwarded": "withheld",
}


def resolve(raw: Mapping[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    """(``raw`` with each undocumented claim replaced by its simulated value, the dotted keys replaced).

    ``raw`` must have passed the schema (which allows ``undocumented`` exactly at the keys of
    ``SIMULATED_AS``); it is not modified.
    """
    data: dict[str, Any] = copy.deepcopy(dict(raw))
    found = set()
    for key, simulated in SIMULATED_AS.items():
        *parents, leaf = key.split(".")
        node: Any = data
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(leaf) == UNDOCUMENTED:
            node[leaf] = copy.copy(simulated)
            found.add(key)
    transfer = data.get("capabilities", {}).get("transfer")
    if "capabilities.transfer.complete_in" in found and isinstance(transfer, dict) \
            and transfer.get("consultation") is not True:
        transfer["complete_in"] = []    # a completion state needs a consultation call to complete
    return data, frozenset(found)
