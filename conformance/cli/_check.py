"""``ro-conformance check --backend SPEC --profile P``: the pre-flight before a run on a real PBX.

It does what the suite's start-up does and says what it saw, so a vendor fixes the set-up before
spending an hour on a run full of errors:

1. the profile loads, the backend opens (``tapi32:`` needs Windows, a bridge needs its server);
2. lineInitializeEx, and per line device: the negotiated API version (1.3 .. 2.2), the LINEDEVCAPS line
   name and the address of address 0 - or why the device would not answer (it is skipped, as in a run);
3. which device is the desk (``pixit.desk`` by number equivalence or line name) and that it opens
   OWNER|MONITOR, with its calls and forwarding now (lineGetAddressStatus);
4. per PIXIT role, how the suite will observe it: a party line (named), the operator (a terminal or an
   answers file, ``--answers``), the simulator, or none (those requirements will be inconclusive).

Exit status: 0 when the suite can run; 3 when it could not (the reason is printed: backend unavailable,
no desk line, the desk line cannot be opened); 4 for a usage or profile error. ``--json`` prints the same
facts as one JSON object on stdout instead of text.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any, TextIO

from conformance._registry import open_backend
from conformance.backends.tapi32._operator import (
    ANSWERS_ENV,
    OPERATOR_ENV,
    ScriptedOperator,
    use_terminal_if_interactive,
)
from conformance.cli._run import DEFAULT_BACKEND, DEFAULT_PROFILE, check_profile
from conformance.report._results import EXIT_COMPATIBLE, EXIT_ERRORS, EXIT_USAGE
from conformance.suite._desk import find_desk, list_devices, open_desk_line
from conformance.suite._errors import HarnessError
from simulator._constants import ApiVersion
from simulator._errors import LineError, TapiError
from simulator._partyview import ROLES
from simulator._profile_model import Profile

__all__ = ["add_arguments", "preflight", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default=DEFAULT_PROFILE, metavar="P", help="profile YAML")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, metavar="SPEC",
                        help="backend spec: sim[:PROFILE], bridge://HOST:PORT, tapi32:, tapi32:emulated")
    parser.add_argument("--answers", default=None, metavar="FILE",
                        help=f"scripted operator answers (YAML) instead of the terminal; also ${ANSWERS_ENV}")
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")


def _version(value: int) -> str:
    return f"{value >> 16}.{value & 0xFFFF}"


def _roles(backend: Any, info: dict[str, Any]) -> dict[str, str]:
    """How each PIXIT role is observed: from the backend's own answer, else by what the backend is."""
    roles = info.get("party_roles")
    if isinstance(roles, dict):
        return {str(k): str(v) for k, v in roles.items()}
    kind = info.get("served_backend") or info.get("backend")
    if kind == "sim":
        return dict.fromkeys(ROLES, "simulator (direct party control)")
    how = getattr(getattr(backend, "parties", None), "how", None)
    if callable(how):
        return {role: str(how(role)) for role in ROLES}
    return dict.fromkeys(ROLES, "unknown")


def preflight(backend: Any, profile: Profile) -> dict[str, Any]:
    """The facts of one pre-flight (see the module docstring); ``problem`` is set when the suite cannot run.

    Never raises ``TapiError``: what went wrong is the ``problem``.
    """
    facts: dict[str, Any] = {"profile": profile.name, "devices": [], "desk": None, "roles": {},
                             "warnings": [], "problem": ""}
    try:
        info = backend.info()
        facts["backend"] = info
        h_app, count, version = backend.line_initialize_ex("ro-conformance check", int(ApiVersion.V2_2))
        facts["api_version"] = _version(version)
        try:
            devices = list_devices(backend, h_app, count)
            facts["devices"] = [d.describe() for d in devices]
            search = find_desk(backend, profile, h_app, count)
        finally:
            backend.line_shutdown(h_app)
        if search.device is None:
            facts["problem"] = (f"no line device is the desk {profile.pixit.desk!r} (pixit.desk; by address "
                                f"number, business number or line name, pixit.party_lines.desk)")
            return facts
        line = open_desk_line(backend, profile)
        try:
            status = backend.line_get_address_status(line.h_line, 0)
            calls = status.num_active_calls + status.num_on_hold_calls + status.num_on_hold_pend_calls
            facts["desk"] = {"device": line.device_id, "how": search.how, "api_version": _version(line.api_version),
                             "line_name": line.dev_caps.line_name, "address": line.addr_caps.address,
                             "calls_now": calls, "forwarding_now": len(status.forward)}
            if calls:
                facts["warnings"].append(f"the desk line has {calls} call(s) now: a run starts with an idle desk")
        finally:
            backend.line_shutdown(line.h_line_app)
        facts["roles"] = _roles(backend, info)
        for role, how in facts["roles"].items():
            if how == "none":
                facts["warnings"].append(f"{role}: no party line and no operator (terminal or --answers): "
                                         f"requirements that need it will be inconclusive")
            elif how.endswith(": none"):
                facts["warnings"].append(f"{role}: nobody can act at the set itself (e.g. lift the handset on a "
                                         f"PBX that prompts for origination): such steps will be inconclusive")
    except HarnessError as exc:
        facts["problem"] = str(exc)
    except (LineError, TapiError) as exc:
        facts["problem"] = f"{exc}"
    return facts


def _print(facts: dict[str, Any], out: TextIO) -> None:
    backend = facts.get("backend", {})
    print(f"profile: {facts['profile']}", file=out)
    if backend:
        print("backend: " + ", ".join(f"{k}={v}" for k, v in backend.items() if not isinstance(v, dict)), file=out)
    if "api_version" in facts:
        print(f"lineInitializeEx: API {facts['api_version']}, {len(facts['devices'])} line device(s)", file=out)
    for text in facts["devices"]:
        print(f"  {text}", file=out)
    desk = facts["desk"]
    if desk:
        print(f"desk line: device {desk['device']} ({desk['how']}), API {desk['api_version']}, "
              f"line {desk['line_name']!r}, address {desk['address']!r}; opens OWNER|MONITOR; "
              f"{desk['calls_now']} call(s), {desk['forwarding_now']} forwarding entr(y/ies) now", file=out)
    for role, how in facts["roles"].items():
        print(f"role {role}: {how}", file=out)
    for warning in facts["warnings"]:
        print(f"warning: {warning}", file=out)
    if facts["problem"]:
        print(f"the suite cannot run: {facts['problem']}", file=out)
    else:
        print("the suite can run", file=out)


def _check(spec: str, profile: Profile) -> dict[str, Any]:
    try:
        backend = open_backend(spec, profile)
    except TapiError as exc:
        return {"profile": profile.name, "devices": [], "desk": None, "roles": {}, "warnings": [],
                "problem": f"backend {spec!r}: {exc}"}
    try:
        return preflight(backend, profile)
    finally:
        with contextlib.suppress(TapiError):
            backend.close()


def run(args: argparse.Namespace) -> int:
    profile = check_profile(args.profile)
    if profile is None:
        return EXIT_USAGE
    if args.answers:
        try:
            ScriptedOperator.load(args.answers)          # a broken file is a usage error, now
        except TapiError as exc:
            print(f"ro-conformance check: {exc}", file=sys.stderr)
            return EXIT_USAGE
    before = {name: os.environ.get(name) for name in (ANSWERS_ENV, OPERATOR_ENV)}
    if args.answers:
        os.environ[ANSWERS_ENV] = args.answers
    use_terminal_if_interactive()
    try:
        facts = _check(args.backend, profile)
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if args.json:
        print(json.dumps(facts, indent=2, default=str))
    else:
        _print(facts, sys.stdout)
    return EXIT_ERRORS if facts["problem"] else EXIT_COMPATIBLE
