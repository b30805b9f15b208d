"""A draft profile: claims with their source and confidence, written as commented YAML.

``ro-conformance probe`` fills a ``Draft`` with one ``Claim`` per profile key it can say something
about; ``render`` writes it as a profile whose every claim line ends in a comment naming the capability
bit or probe it came from and how sure it is. A claim nobody can read through TAPI is a *question*: it
is written as the string ``"QUESTION: ..."`` where the schema wants a number, a name or a list, so the
draft does not validate until a person has answered it (``ro-conformance validate`` names each one).

Confidence, strongest first: ``observed`` (the active probe saw the PBX do it), ``advertised`` (a
capability bit says so; the suite checks it), ``inferred`` (follows from a bit being absent, or is
the schema's default), ``given`` (from the command line), ``question`` (no capability reveals it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = ["QUESTION", "Claim", "Draft", "render"]

Confidence = Literal["observed", "advertised", "inferred", "given", "question"]
QUESTION: Final = "QUESTION: "


@dataclass(frozen=True)
class Claim:
    """One profile key: its value (None for a question), where it came from, how sure that is."""

    key: str                    # dotted path in the profile, e.g. "capabilities.forwarding.query"
    value: Any
    source: str                 # the capability bit / probe step, or what to answer
    confidence: Confidence

    @property
    def is_question(self) -> bool:
        return self.confidence == "question"


@dataclass
class Draft:
    """The claims of a draft profile plus what the header says (devices seen, notes)."""

    claims: dict[str, Claim] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)

    def add(self, key: str, value: Any, source: str, confidence: Confidence) -> None:
        self.claims[key] = Claim(key, value, source, confidence)

    def ask(self, key: str, question: str) -> None:
        self.claims[key] = Claim(key, None, question, "question")

    def questions(self) -> list[Claim]:
        return [c for c in self.claims.values() if c.is_question]


# The layout of a profile: (key path, indent level), in file order. Keys absent from the draft are skipped;
# a parent is written when any of its children is present.
_LAYOUT: Final[Sequence[tuple[str, int]]] = (
    ("schema", 0), ("pbx", 0), ("pbx.name", 1), ("pbx.vendor", 1), ("pbx.description", 1), ("pbx.source", 1),
    ("stations", 0), ("trunks", 0), ("trunks.channels", 1),
    ("pixit", 0), ("pixit.desk", 1), ("pixit.remote_office", 1), ("pixit.target", 1), ("pixit.caller", 1),
    ("pixit.dial_prefix", 1), ("pixit.reply_timeout", 1), ("pixit.state_timeout", 1),
    ("pixit.answer_timeout", 1),
    ("capabilities", 0), ("capabilities.forwarding", 1), ("capabilities.forwarding.modes", 2),
    ("capabilities.forwarding.query", 2), ("capabilities.forwarding.status_events", 2),
    ("capabilities.forwarding.max_entries", 2), ("capabilities.forwarding.clear", 2),
    ("capabilities.forwarding.desk_sees_forwarded_call", 2),
    ("capabilities.origination", 1), ("capabilities.transfer", 1), ("capabilities.transfer.blind", 2),
    ("capabilities.transfer.consultation", 2), ("capabilities.transfer.complete_in", 2),
    ("capabilities.native_remote_office", 1), ("capabilities.native_remote_office.mechanism", 2),
    ("capabilities.native_remote_office.ext_version", 2), ("capabilities.native_remote_office.activate", 2),
    ("capabilities.native_remote_office.deactivate", 2), ("capabilities.native_remote_office.event_param1", 2),
    ("capabilities.caller_id", 1), ("capabilities.caller_id.direct", 2),
    ("capabilities.caller_id.blind_transfer", 2), ("capabilities.caller_id.consult_transfer", 2),
    ("capabilities.caller_id.forwarded", 2),
    ("simulation", 0), ("simulation.api_version", 1), ("simulation.dialtone_state", 1),
    ("simulation.proceeding_state", 1),
)
_HEX_KEYS: Final = frozenset({"simulation.api_version", "capabilities.native_remote_office.ext_version",
                              "capabilities.native_remote_office.event_param1"})


def _scalar(key: str, value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"0x{value:08X}" if key in _HEX_KEYS else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)     # a JSON string is a valid YAML scalar


def _line(indent: int, name: str, value: str, comment: str) -> str:
    text = f"{'  ' * indent}{name}: {value}"
    return f"{text}  # {comment}" if comment else text


def _comment(claim: Claim) -> str:
    return f"? {claim.source}" if claim.is_question else f"[{claim.confidence}] {claim.source}"


def render(draft: Draft, answers: Mapping[str, Any] | None = None) -> str:
    """The draft as profile YAML; ``answers`` (key -> value) fills questions as a vendor would."""
    answers = answers or {}
    lines = [f"# {h}" if h else "#" for h in draft.header]
    lines.append("")
    for key, indent in _LAYOUT:
        name = key.rsplit(".", 1)[-1]
        if indent == 0 and lines[-1] != "":
            lines.append("")
        children = [k for k in draft.claims if k.startswith(key + ".")]
        claim = draft.claims.get(key)
        if claim is None and not children:
            continue
        if claim is None:
            lines.append(f"{'  ' * indent}{name}:")
            continue
        if key == "stations":
            lines.extend(_stations(claim, answers))
            continue
        value = answers.get(key, claim.value) if claim.is_question else claim.value
        if claim.is_question and key not in answers:
            lines.append(_line(indent, name, _scalar(key, QUESTION + claim.source), "answer this"))
        else:
            lines.append(_line(indent, name, _scalar(key, value), _comment(claim)))
    return "\n".join(lines).rstrip() + "\n"


def _stations(claim: Claim, answers: Mapping[str, Any]) -> list[str]:
    """``stations``: the value is a list of dicts; a None business number is a question."""
    out = [f"stations:  # [{claim.confidence}] {claim.source}"]
    for index, station in enumerate(claim.value):
        key = f"stations[{index}].business_number"
        number = station.get("business_number") or answers.get(key)
        shown = _scalar(key, number) if number else _scalar(key, QUESTION + station["ask"])
        out.append(f"  - extension: {_scalar('', station['extension'])}")
        out.append(f"    business_number: {shown}" + ("" if number else "  # answer this: "
                                                      "the DDI (+E.164) shown outside for this station"))
        if station.get("name"):
            out.append(f"    name: {_scalar('', station['name'])}")
    return out
