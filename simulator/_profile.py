"""Load a YAML profile, check it, and build the frozen ``Profile`` (``_profile_model.py``).

Theory of operation: bytes -> text (size and UTF-8 checked) -> YAML node tree (a ``SafeLoader`` subclass;
no tag ever constructs a Python object) -> walk of the node tree, which records the line of every key
path and finds duplicate keys (PyYAML silently keeps the last one) -> plain data -> merged over the
profile named by ``base:`` (if any; each key remembers the file and line it came from) -> JSON Schema
(``profile.schema.json``, every error, not just the first) -> semantic checks the schema cannot express
-> dataclasses. Every stage adds ``ProfileProblem``s to one list; only a clean list reaches the builder,
and a dirty one is raised as a single ``ProfileError``. Bad input never escapes as a traceback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import jsonschema
import yaml

from simulator._constants import ApiVersion, LineCallFeature, LineErr, LineForwardMode
from simulator._errors import ProfileError, ProfileProblem
from simulator._faults import (
    ASYNC_FUNCTIONS,
    CAPS_FLAG_FAMILIES,
    FAULT_FIELDS,
    FUNCTIONS,
    GROWING,
    NEW_CALL_FUNCTIONS,
    ROUTES_BY_KIND,
    SHOWS_BY_KIND,
    caps_flag,
)
from simulator._profile_model import (
    CallerIdRules,
    Capabilities,
    Expect,
    ExternalParty,
    Fault,
    Forwarding,
    NativeRemoteOffice,
    Pixit,
    Profile,
    Simulation,
    Station,
    Timing,
    Transfer,
)
from simulator._profile_undocumented import resolve as resolve_undocumented

__all__ = ["MAX_BYTES", "SCHEMA", "load_profile", "load_profile_text"]

MAX_BYTES: Final = 1024 * 1024
SCHEMA: Final[Mapping[str, Any]] = json.loads(
    resources.files("simulator").joinpath("profile.schema.json").read_text(encoding="utf-8"))
_VALIDATOR: Final = jsonschema.Draft202012Validator(SCHEMA)

# Alias expansion can turn a small file into a huge (or cyclic) tree; bound the walk before jsonschema
# traverses it.
_MAX_NODES: Final = 50_000
_MAX_DEPTH: Final = 40

# LINEFORWARDMODE_UNKNOWN / _UNAVAIL only ever appear in status, never as a mode to set.
_FORWARD_MODES: Final = tuple(m for m in LineForwardMode.__members__ if m not in ("UNKNOWN", "UNAVAIL"))
_MAX_BASES: Final = 8   # base: chains longer than this are surely a mistake (or a cycle)

# Every claim the verdict depends on must be stated; nothing is implied (docs/profiles.md, "Claims").
_CLAIMS: Final[tuple[tuple[str, ...], ...]] = (
    ("trunks", "channels"), ("capabilities", "forwarding"), ("capabilities", "origination"),
    ("capabilities", "transfer", "blind"), ("capabilities", "transfer", "consultation"),
    ("capabilities", "transfer", "complete_in"), ("capabilities", "native_remote_office", "mechanism"),
    *(("capabilities", "caller_id", path) for path in ("direct", "blind_transfer", "consult_transfer", "forwarded")),
)
_FORWARD_CLAIMS: Final = ("modes", "query", "status_events", "max_entries", "clear")

KeyPath = tuple[str | int, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader whose only job here is composing nodes; constructors stay the safe ones."""


@dataclass
class _Doc:
    """What the reading stages learned about one file."""

    file: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    files: dict[KeyPath, str] = field(default_factory=dict)   # key path -> base file it came from
    marks: dict[tuple[int, int], KeyPath] = field(default_factory=dict)   # (line, column) of a node
    problems: list[ProfileProblem] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict)   # the merged document, once read

    def line(self, path: KeyPath) -> int:
        for end in range(len(path), -1, -1):   # the nearest ancestor that exists in the file
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def source(self, path: KeyPath) -> str:
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.files.get(path[:end], self.file)
        return self.file

    def add(self, path: KeyPath, message: str) -> None:
        self.problems.append(ProfileProblem(self.source(path), self.line(path), format_path(path), message))


def format_path(path: KeyPath) -> str:
    """``("a", "b", 1)`` -> ``"a.b[1]"``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ---------------------------------------------------------------------------------------------- public


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read, validate and build the profile at ``path``.

    Raises:
        ProfileError: listing every problem found (file, line, key path, what is wrong).
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ProfileError([ProfileProblem(name, None, "", f"cannot read: {exc.strerror or exc}")]) from None
    return _load(data, name)


def load_profile_text(text: str, filename: str) -> Profile:
    """Like :func:`load_profile` for text already in memory; ``filename`` names it in problems."""
    return _load(text.encode("utf-8", "surrogatepass"), filename)


def _load(data: bytes, filename: str) -> Profile:
    doc = _Doc(filename)
    raw = _read_document(data, doc)
    if raw is not None and isinstance(raw.get("base"), str) and raw["base"]:
        raw = _with_base(raw, filename, doc, (os.path.abspath(filename),))
    # a file that declares another format version is not checked further: its keys may mean other things
    if raw is not None and _check_version(raw, doc):
        doc.raw = raw
        _check_schema(raw, doc)
        _check_semantics(raw, doc)
    if doc.problems or raw is None:
        raise ProfileError(_unique(doc.problems))
    return _build(raw, filename)


def _unique(problems: Sequence[ProfileProblem]) -> list[ProfileProblem]:
    return list(dict.fromkeys(problems))


# ------------------------------------------------------------------------------------- bytes to data


def _read_document(data: bytes, doc: _Doc) -> dict[str, Any] | None:
    if len(data) > MAX_BYTES:
        doc.add((), f"file is larger than {MAX_BYTES} bytes (1 MiB); a profile is a few kilobytes")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        doc.lines[("<bytes>",)] = data[: exc.start].count(b"\n") + 1
        doc.problems.append(ProfileProblem(doc.file, doc.line(("<bytes>",)), "",
                                           f"not UTF-8: byte 0x{data[exc.start]:02X} at offset {exc.start}"))
        return None
    node = _compose(text, doc)
    if node is None:
        return None
    if not isinstance(node, yaml.MappingNode):
        doc.add((), "the document must be a mapping of keys (schema, pbx, stations, ...)")
        return None
    if not _walk(node, (), doc, set()):
        return None
    return _construct(node, doc)


def _compose(text: str, doc: _Doc) -> yaml.Node | None:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = "; ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        doc.problems.append(ProfileProblem(doc.file, line, "", f"YAML syntax: {what}"))
        return None
    except yaml.reader.ReaderError as exc:   # a character YAML does not allow
        line = text[: exc.position].count("\n") + 1
        code = ord(exc.character) if isinstance(exc.character, str) else int(exc.character)
        message = f"YAML: control character U+{code:04X} is not allowed in a YAML file"
        doc.problems.append(ProfileProblem(doc.file, line, "", message))
        return None
    except yaml.YAMLError as exc:
        doc.problems.append(ProfileProblem(doc.file, None, "", f"YAML: {exc}"))
        return None
    except RecursionError:
        doc.add((), f"nested too deeply (more than {_MAX_DEPTH} levels)")
        return None
    if node is None:
        doc.add((), "the file is empty; a profile starts with 'schema: 1'")
    return node


def _walk(node: yaml.Node, path: KeyPath, doc: _Doc, seen: set[int]) -> bool:
    """Record the line of every key path, report duplicate keys; False if the tree is unreasonable."""
    doc.lines.setdefault(path, node.start_mark.line + 1)
    doc.marks.setdefault((node.start_mark.line, node.start_mark.column), path)
    if len(path) > _MAX_DEPTH or len(doc.lines) > _MAX_NODES or id(node) in seen:
        doc.add(path, "too deep, too large or recursive (check anchors and aliases)")
        return False
    children = list(_children(node, path, doc))
    seen.add(id(node))
    ok = all(_walk(child, child_path, doc, seen) for child_path, child in children)
    seen.discard(id(node))
    return ok


def _children(node: yaml.Node, path: KeyPath, doc: _Doc) -> Iterator[tuple[KeyPath, yaml.Node]]:
    if isinstance(node, yaml.SequenceNode):
        yield from (((*path, i), item) for i, item in enumerate(node.value))
    elif isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                continue   # merged keys are checked where they are written
            if key in keys:   # named at the repeated key's line, not the first one's
                message = f"duplicate key {key!r} (YAML would silently keep the last)"
                doc.problems.append(ProfileProblem(doc.file, key_node.start_mark.line + 1,
                                                   format_path((*path, key)), message))
            keys.add(key)
            doc.lines.setdefault((*path, key), key_node.start_mark.line + 1)
            yield (*path, key), value_node


def _construct(node: yaml.Node, doc: _Doc) -> dict[str, Any] | None:
    loader = _Loader("")
    try:
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:   # e.g. !!python/object tags: the safe constructors refuse them
        mark = exc.problem_mark
        path = doc.marks.get((mark.line, mark.column), ()) if mark is not None else ()
        doc.problems.append(ProfileProblem(doc.file, mark.line + 1 if mark is not None else None,
                                           format_path(path), f"YAML: {exc.problem}"))
        return None
    finally:
        loader.dispose()
    return data if isinstance(data, dict) else None


# ------------------------------------------------------------------------------------- base: profiles


def _with_base(raw: dict[str, Any], filename: str, doc: _Doc, chain: tuple[str, ...]) -> dict[str, Any] | None:
    """``raw`` merged over the profile its ``base:`` names; None (with a problem) when that cannot be read."""
    name = os.path.join(os.path.dirname(filename), raw["base"])
    full = os.path.abspath(name)
    if full in chain or len(chain) > _MAX_BASES:
        doc.add(("base",), f"{raw['base']!r} leads back to itself (base chain: {' -> '.join(chain)})")
        return None
    try:
        with open(full, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        doc.add(("base",), f"cannot read base profile {name!r}: {exc.strerror or exc}")
        return None
    base_doc = _Doc(name)
    base = _read_document(data, base_doc)
    if base is not None and isinstance(base.get("base"), str) and base["base"]:
        base = _with_base(base, name, base_doc, (*chain, full))
    if base is None or base_doc.problems:
        doc.problems.extend(base_doc.problems)
        return None
    for path, line in base_doc.lines.items():   # keys only the base states are named in the base file
        if path not in doc.lines and path[:1] not in (("expect",), ("base",)):
            doc.lines[path] = line
            doc.files[path] = base_doc.files.get(path, name)
    base.pop("expect", None)   # an expectation belongs to the file that states it
    base.pop("base", None)
    merged: dict[str, Any] = _merge(base, raw)
    merged.pop("base")
    return merged


def _merge(base: Any, over: Any) -> Any:
    """Mappings merge key by key (``over`` wins); anything else in ``over`` replaces ``base``."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return over


# ---------------------------------------------------------------------------------------- the schema


def _check_version(raw: Mapping[str, Any], doc: _Doc) -> bool:
    """False when the file declares a format version other than 1."""
    if "schema" not in raw:
        doc.add(("schema",), "missing: the first key of a profile must be 'schema: 1' (the format version)")
    elif isinstance(raw["schema"], bool) or raw["schema"] != 1:
        doc.add(("schema",), f"unsupported format version {raw['schema']!r}; this loader reads schema 1 only")
        return False
    return True


def _check_schema(raw: Mapping[str, Any], doc: _Doc) -> None:
    for error in _VALIDATOR.iter_errors(raw):
        path: KeyPath = tuple(error.absolute_path)
        if path[:1] == ("schema",) or (error.validator == "required" and "schema" not in raw and not path):
            continue   # _check_version explains it better
        for sub_path, message in _explain(error, path):
            doc.add(sub_path, message)


_UNDOCUMENTED_REF: Final = {"$ref": "#/$defs/undocumented"}


def _explain(error: jsonschema.ValidationError, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    instance, schema = error.instance, error.schema
    if error.validator == "anyOf" and isinstance(schema, dict) and _UNDOCUMENTED_REF in schema.get("anyOf", []):
        # "<claim> or 'undocumented'": explain against the claim's own schema (alternative 0), so a wrong
        # key or value inside is named as precisely as without the alternative.
        for sub in error.context or []:
            if sub.relative_schema_path and sub.relative_schema_path[0] == 0:
                wrong_kind = sub.validator in ("type", "enum") and tuple(sub.absolute_path) == path
                for sub_path, message in _explain(sub, tuple(sub.absolute_path)):
                    yield sub_path, message + ("; or 'undocumented'" if wrong_kind else "")
        return
    if error.validator == "additionalProperties" and isinstance(instance, dict) and isinstance(schema, dict):
        allowed = list(schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                yield (*path, str(key)), f"unknown key; allowed here: {', '.join(allowed)}"
    elif error.validator == "required" and isinstance(instance, dict):
        why = f" (needed by kind {instance.get('kind')!r})" if "then" in error.relative_schema_path else ""
        for key in error.validator_value if isinstance(error.validator_value, list) else []:
            if key not in instance:
                yield (*path, key), f"required key is missing{why}"
    elif (error.validator == "type" and isinstance(instance, int) and not isinstance(instance, bool)
          and "string" in str(error.validator_value)):
        yield path, f"{error.message}; quote numbers (YAML reads 0171... as an integer)"
    else:
        yield path, error.message


# ------------------------------------------------------------------------------------ semantic checks


def _get(raw: Any, *keys: str) -> Any:
    """``raw[k1][k2]...`` or None when any level is missing or of the wrong type."""
    for key in keys:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(key)
    return raw


def _items(raw: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    value = raw.get(key) if isinstance(raw, dict) else None
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def _check_semantics(raw: Mapping[str, Any], doc: _Doc) -> None:
    _check_claims(raw, doc)
    _check_faults(raw, doc)
    _check_numbers(raw, doc)
    _check_pixit(raw, doc)
    _check_transfer(raw, doc)
    _check_native(raw, doc)
    _check_constants(raw, doc)


def _yaml(value: Any) -> str:
    """A value as it is written in YAML (``[]``, ``false``, ``null``), for messages."""
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("...").strip()


def _check_claims(raw: Mapping[str, Any], doc: _Doc) -> None:
    """Every claim the verdict depends on is stated: a missing one is never read as 'supported'."""
    for path in _CLAIMS:
        parent = _get(raw, *path[:-1]) if len(path) > 1 else raw
        if (isinstance(parent, dict) and path[-1] not in parent) or parent is None:
            doc.add(path, "missing claim: the verdict depends on it, so state it (docs/profiles.md, 'Claims')")
    fwd = _get(raw, "capabilities", "forwarding")
    if isinstance(fwd, dict):
        for key in _FORWARD_CLAIMS:
            if key not in fwd:
                doc.add(("capabilities", "forwarding", key),
                        "missing claim: state it, or write 'forwarding: null' for a PBX without forwarding")


def _check_faults(raw: Mapping[str, Any], doc: _Doc) -> None:
    """Each fault takes the fields its kind uses, and only those; functions and flags must exist."""
    for i, fault in _items(_get(raw, "simulation"), "faults"):
        path: KeyPath = ("simulation", "faults", i)
        kind = fault.get("kind")
        if not isinstance(kind, str) or kind not in FAULT_FIELDS:
            continue   # the schema names the valid kinds
        required, optional = FAULT_FIELDS[kind]
        for key in required:
            if key not in fault:
                doc.add((*path, key), f"required key is missing (needed by kind {kind!r})")
        known = _get(SCHEMA, "properties", "simulation", "properties", "faults", "items", "properties") or {}
        for key in fault:
            if key in known and key != "kind" and key not in required and key not in optional:
                used = ", ".join((*required, *optional)) or "no other field"
                doc.add((*path, key), f"kind {kind!r} does not use {key!r}; it takes: {used}")
        _check_fault_values(fault, kind, path, doc)


def _check_fault_values(fault: Mapping[str, Any], kind: str, path: KeyPath, doc: _Doc) -> None:
    function = fault.get("function")
    if isinstance(function, str) and function:
        if function not in FUNCTIONS:
            doc.add((*path, "function"), f"{function!r} is not a TAPI function the provider implements; "
                                         f"valid: {', '.join(FUNCTIONS)}")
        elif kind == "needed_size_grows":
            if function not in GROWING:
                doc.add((*path, "function"), f"{function} returns no variable-size structure; "
                                             f"valid: {', '.join(GROWING)}")
        elif kind == "reply_without_call_handle" and function not in NEW_CALL_FUNCTIONS:
            doc.add((*path, "function"), f"{function} hands out no new call handle in a LINE_REPLY; valid: "
                                         f"{', '.join(NEW_CALL_FUNCTIONS)}")
        elif kind != "reply_error" and function not in ASYNC_FUNCTIONS:
            doc.add((*path, "function"), f"{function} is synchronous (no LINE_REPLY), so kind {kind!r} cannot "
                                         f"apply; asynchronous: {', '.join(sorted(ASYNC_FUNCTIONS))}")
    elif function == "" and kind == "reply_without_call_handle":
        doc.add((*path, "function"), f"empty; valid: {', '.join(NEW_CALL_FUNCTIONS)}")
    if fault.get("occurs") == "every_nth" and "nth" not in fault:
        doc.add((*path, "nth"), "required key is missing (needed by occurs: every_nth)")
    if "nth" in fault and fault.get("occurs") != "every_nth":
        doc.add((*path, "nth"), "nth needs occurs: every_nth")
    if kind == "origination_differs" and (fault.get("behaves") == "prompt_then_auto") != ("seconds" in fault):
        doc.add((*path, "seconds"), "seconds goes with behaves: prompt_then_auto (the prompt before the "
                                    "PBX goes off-hook hands-free), and only with it")
    for i, mode in enumerate(fault.get("modes") or []):
        if isinstance(mode, str) and mode not in _FORWARD_MODES:
            doc.add((*path, "modes", i), f"unknown LINEFORWARDMODE suffix {mode!r}; valid: {', '.join(_FORWARD_MODES)}")
    for i, flag in enumerate(fault.get("flags") or []):
        if isinstance(flag, str) and caps_flag(flag) is None:
            doc.add((*path, "flags", i), f"unknown or not an advertised capability: {flag!r}; families: "
                                         f"{', '.join(f + '*' for f in CAPS_FLAG_FAMILIES)}")
    shows = fault.get("shows")
    if isinstance(shows, str) and kind in SHOWS_BY_KIND and shows not in SHOWS_BY_KIND[kind]:
        doc.add((*path, "shows"), f"kind {kind!r} cannot show {shows!r}; valid: {', '.join(SHOWS_BY_KIND[kind])}")
    route = fault.get("route")
    if isinstance(route, str) and kind in ROUTES_BY_KIND and route not in ROUTES_BY_KIND[kind]:
        doc.add((*path, "route"), f"kind {kind!r} does not act on route {route!r}; valid: "
                                  f"{', '.join(ROUTES_BY_KIND[kind])}")
    if kind == "desk_call_lingers" and "call" in fault and route != "consult":
        doc.add((*path, "call"), "call goes with route: consult (a consultation transfer leaves two desk calls, "
                                 "the held one and the consultation call; a blind transfer only one)")
    if kind == "wrong_caller_id" and fault.get("role") == "caller":
        doc.add((*path, "role"), "the caller is never shown the desk's caller ID (it places the call); "
                                 "valid: remote_office, target")
    claimed, real = _get(doc.raw, "trunks", "channels"), fault.get("channels")
    if kind == "fewer_trunks" and isinstance(claimed, int) and isinstance(real, int) and real >= claimed:
        doc.add((*path, "channels"), f"{real} is not fewer than the {claimed} trunks.channels claims")


def _check_numbers(raw: Mapping[str, Any], doc: _Doc) -> None:
    # every number the switch routes must name exactly one party
    first: dict[str, str] = {}
    fields = [("stations", "extension"), ("stations", "business_number"), ("externals", "number")]
    for section, key in fields:
        for i, item in _items(raw, section):
            number = item.get(key)
            if not isinstance(number, str):
                continue
            here = format_path((section, i, key))
            if number in first:
                doc.add((section, i, key), f"number {number!r} is already used by {first[number]}")
            else:
                first[number] = here


def _check_pixit(raw: Mapping[str, Any], doc: _Doc) -> None:
    extensions = [st.get("extension") for _, st in _items(raw, "stations")]
    desk = _get(raw, "pixit", "desk")
    if isinstance(desk, str) and desk not in extensions:
        doc.add(("pixit", "desk"), f"{desk!r} is not a station extension; stations: {_names(extensions)}")
    for role in ("remote_office", "target", "caller"):
        number = _get(raw, "pixit", role)
        if isinstance(number, str) and number in extensions:
            doc.add(("pixit", role), f"{number!r} is a station extension; {role} must be an external number")


def _names(values: Sequence[Any]) -> str:
    return ", ".join(repr(v) for v in values if isinstance(v, str)) or "none"


def _check_transfer(raw: Mapping[str, Any], doc: _Doc) -> None:
    transfer = _get(raw, "capabilities", "transfer")
    complete_in = _get(transfer, "complete_in")
    if _get(transfer, "consultation") is False and isinstance(complete_in, list) and complete_in:
        doc.add(("capabilities", "transfer", "complete_in"),
                f"{complete_in} needs 'consultation: true' (lineCompleteTransfer completes a consultation "
                "call); use [] or drop the key")


def _check_native(raw: Mapping[str, Any], doc: _Doc) -> None:
    native = _get(raw, "capabilities", "native_remote_office")
    if _get(native, "mechanism") != "devspecific":
        return
    path = ("capabilities", "native_remote_office")
    version = _get(native, "ext_version")
    if version is None or (isinstance(version, int) and version <= 0):
        doc.add((*path, "ext_version"), "mechanism 'devspecific' needs ext_version > 0 to negotiate")
    for key in ("activate", "deactivate"):
        if _get(native, key) in (None, ""):
            doc.add((*path, key), f"mechanism 'devspecific' needs a non-empty {key} request")


def _check_constants(raw: Mapping[str, Any], doc: _Doc) -> None:
    modes = _get(raw, "capabilities", "forwarding", "modes")
    for i, mode in enumerate(modes if isinstance(modes, list) else []):
        if isinstance(mode, str) and re.fullmatch("[A-Z]+", mode) and mode not in _FORWARD_MODES:
            doc.add(("capabilities", "forwarding", "modes", i),
                    f"unknown LINEFORWARDMODE suffix {mode!r}; valid: {', '.join(_FORWARD_MODES)}")
    for i, fault in _items(_get(raw, "simulation"), "faults"):
        _check_fault_constants(fault, ("simulation", "faults", i), doc)
    version = _get(raw, "simulation", "api_version")
    if isinstance(version, int) and version not in set(ApiVersion):
        valid = ", ".join(f"0x{v.value:08X}" for v in ApiVersion)
        doc.add(("simulation", "api_version"), f"0x{version:08X} is not a TAPI version; valid: {valid}")


def _check_fault_constants(fault: Mapping[str, Any], path: KeyPath, doc: _Doc) -> None:
    error = fault.get("error")
    if isinstance(error, str) and error.startswith("LINEERR_") and error[8:] not in LineErr.__members__:
        doc.add((*path, "error"), f"unknown {error!r}; valid: {_choices(LineErr)}")
    features = fault.get("features")
    for i, name in enumerate(features if isinstance(features, list) else []):
        prefix = "LINECALLFEATURE_"
        if isinstance(name, str) and name.startswith(prefix) and name[16:] not in LineCallFeature.__members__:
            doc.add((*path, "features", i), f"unknown {name!r}; valid: {_choices(LineCallFeature)}")


def _choices(family: Any) -> str:
    return ", ".join(member.tapi_name for member in family)


# ---------------------------------------------------------------------------------- data to values


def _build(document: dict[str, Any], path: str) -> Profile:
    raw, undocumented = resolve_undocumented(document)   # the simulator plays undocumented as not offered
    pbx = raw["pbx"]
    return Profile(
        name=pbx["name"], path=path, vendor=pbx.get("vendor", ""), description=pbx.get("description", ""),
        source=pbx.get("source", ""),
        stations=tuple(Station(**st) for st in raw["stations"]),
        trunks=_get(raw, "trunks", "channels") or 2,
        externals=tuple(ExternalParty(**ex) for ex in raw.get("externals", [])),
        default_external=ExternalParty(number="", **raw.get("default_external", {})),
        pixit=_build_pixit(raw["pixit"]),
        capabilities=_build_capabilities(raw.get("capabilities", {})),
        simulation=_build_simulation(raw.get("simulation", {})),
        expect=_build_expect(raw["expect"]) if "expect" in raw else None,
        undocumented=undocumented,
        raw=document,
    )


def _build_pixit(pixit: Mapping[str, Any]) -> Pixit:
    timeouts = _floats(pixit, ("reply_timeout", "state_timeout", "answer_timeout"))
    options = {role: dict(value) for role, value in pixit.get("party_line_options", {}).items()}
    return Pixit(**{**pixit, **timeouts, "party_lines": dict(pixit.get("party_lines", {})),
                    "party_line_options": options})


def _build_capabilities(caps: Mapping[str, Any]) -> Capabilities:
    kwargs: dict[str, Any] = {}
    if "forwarding" in caps:
        fwd = caps["forwarding"]
        kwargs["forwarding"] = None if fwd is None else Forwarding(**_tuples(fwd))
    if "transfer" in caps:
        transfer = _tuples(caps["transfer"])
        if transfer.get("consultation") is False:
            transfer.setdefault("complete_in", ())   # the default list assumes a consultation call
        kwargs["transfer"] = Transfer(**transfer)
    if "native_remote_office" in caps:
        kwargs["native_remote_office"] = NativeRemoteOffice(**caps["native_remote_office"])
    if "caller_id" in caps:
        kwargs["caller_id"] = CallerIdRules(**caps["caller_id"])
    if "origination" in caps:
        kwargs["origination"] = caps["origination"]
    return Capabilities(**kwargs)


def _build_simulation(sim: Mapping[str, Any]) -> Simulation:
    kwargs = {k: v for k, v in sim.items() if k not in ("timing", "faults")}
    timing = sim.get("timing", {})
    return Simulation(**kwargs, timing=Timing(**_floats(timing, tuple(timing))),
                      faults=tuple(_build_fault(f) for f in sim.get("faults", [])))


def _build_expect(expect: Mapping[str, Any]) -> Expect:
    return Expect(verdict=expect["verdict"], route=expect["route"], fails=tuple(sorted(expect["fails"])))


def _build_fault(fault: Mapping[str, Any]) -> Fault:
    kwargs = {**_tuples(fault), **_floats(fault, ("seconds",))}
    if "error" in kwargs:
        kwargs["error"] = int(LineErr[kwargs["error"][len("LINEERR_"):]])
    if "features" in kwargs:
        mask = 0
        for name in kwargs["features"]:
            mask |= int(LineCallFeature[name[len("LINECALLFEATURE_"):]])
        kwargs["features"] = mask
    return Fault(**kwargs)


def _tuples(section: Mapping[str, Any]) -> dict[str, Any]:
    """YAML lists become tuples, so the frozen values are hashable all the way down."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}


def _floats(section: Mapping[str, Any], keys: Sequence[str]) -> dict[str, float]:
    """YAML ``5`` is an int; the model's seconds are floats."""
    return {k: float(section[k]) for k in keys if k in section}
