"""Finding and opening the desk line: which TAPI line device is the PIXIT's desk extension.

Real TSPs do not report an address the way a profile writes it (docs/tapi.md §2.7, §2.8):

* the address is usually the full canonical number (``+49 89 1234-201``, ``+49891234201``), not the
  extension ``201``; a device matches when its LINEADDRESSCAPS address is *the same number* as the desk
  extension or the station's business number (equal digits), or ends with the extension after a
  separator (``...1234-201``);
* the LINEDEVCAPS line name may be the only usable handle: ``pixit.party_lines.desk`` (a substring of the
  line name, case-insensitive), else the desk extension as a whole number inside the line name;
* some devices do not answer at all: lineNegotiateAPIVersion, lineGetDevCaps or lineGetAddressCaps fail
  with NODRIVER, NODEVICE, RESOURCEUNAVAIL, INCOMPATIBLEAPIVERSION (a modem, a removed or
  foreign device). Such a device is skipped and reported (``DeskSearch.skipped``), never fatal.

Several devices matching at the best rule is an error that names them (the PIXIT must say which).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from conformance.backend import DEFAULT_API_VERSION, INTERACTIVEVOICE, OWNER_MONITOR, Backend
from conformance.suite._errors import HarnessError
from simulator._constants import ApiVersion
from simulator._errors import LineError
from simulator._profile_model import Pixit, Profile
from simulator._structs import LineAddressCaps, LineDevCaps

__all__ = ["API_HIGH", "API_LOW", "DeskLine", "DeskSearch", "Device", "find_desk", "list_devices",
           "number_equivalent", "open_desk_line"]

# docs/tapi.md §2.8 / §13: negotiate 1.3 .. 2.2 (any provider the schema admits); nothing in the suite
# needs 3.x fields, and 2.2 keeps the 24-byte LINEFORWARD entries every TSP understands.
API_LOW, API_HIGH = int(ApiVersion.V1_3), int(ApiVersion.V2_2)


@dataclass
class DeskLine:
    """An opened desk line: the handles and the caps read while opening it."""

    h_line_app: int
    h_line: int
    device_id: int
    api_version: int
    ext_version: int
    dev_caps: LineDevCaps
    addr_caps: LineAddressCaps
    skipped: tuple[str, ...] = ()     # devices that would not answer while the desk was searched


@dataclass(frozen=True)
class Device:
    """One line device as the start-up saw it: negotiated version, line name, address 0 (or why not)."""

    device_id: int
    api_version: int = 0
    line_name: str = ""
    address: str = ""
    num_addresses: int = 0
    error: str = ""                   # "lineGetAddressCaps: LINEERR_NODRIVER" when it would not answer

    def describe(self) -> str:
        if self.error:
            return f"device {self.device_id}: skipped ({self.error})"
        more = f" (+{self.num_addresses - 1} more address(es))" if self.num_addresses > 1 else ""
        return (f"device {self.device_id}: API {self.api_version >> 16}.{self.api_version & 0xFFFF}, "
                f"line {self.line_name!r}, address {self.address!r}{more}")


@dataclass
class DeskSearch:
    """The outcome of ``find_desk``: the device (None if none matched), how, and what was skipped."""

    device: Device | None
    how: str = ""
    devices: list[Device] = field(default_factory=list)

    @property
    def skipped(self) -> tuple[str, ...]:
        return tuple(d.describe() for d in self.devices if d.error)


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def number_equivalent(reported: str, number: str) -> bool:
    """True when ``reported`` (as a TSP writes it) is the same number as ``number``: equal digits.

    Separators and ``+`` do not count, and the international prefix ``00`` equals ``+``: so
    ``"+49 89 1234-201"``, ``"+49891234201"`` and ``"0049891234201"`` are one number. A national form
    (``089 1234201``) is not equated with it, since the country code is not known here.
    """
    a, b = _digits(reported), _digits(number)
    if not a or not b:
        return False
    return a.removeprefix("00") == b.removeprefix("00")


def _ends_with_extension(reported: str, extension: str) -> bool:
    """``+49 89 1234-201`` ends with ``201`` as its own group (after a separator), not as ``...1201``."""
    ext = _digits(extension)
    return bool(ext) and re.search(rf"[^\d]{re.escape(ext)}\s*$", reported.strip()) is not None


def _whole_number_in(text: str, number: str) -> bool:
    return bool(number) and re.search(rf"(?<!\d){re.escape(number)}(?!\d)", text) is not None


def _rules(profile: Profile) -> list[tuple[str, Callable[[Device], bool]]]:
    """The matching rules in order of preference: (description, predicate on a Device)."""
    pixit: Pixit = profile.pixit
    desk = pixit.desk
    business = next((s.business_number for s in profile.stations if s.extension == desk), "")
    wanted_name = pixit.party_lines.get("desk", "")
    rules: list[tuple[str, Callable[[Device], bool]]] = [
        (f"address {desk!r} (pixit.desk)", lambda d: number_equivalent(d.address, desk)),
    ]
    if business:
        rules.append((f"address is the business number {business!r}",
                      lambda d: number_equivalent(d.address, business)))
    if wanted_name:
        rules.append((f"line name contains {wanted_name!r} (pixit.party_lines.desk)",
                      lambda d: wanted_name.casefold() in d.line_name.casefold()))
    rules.append((f"address ends with the extension {desk!r}", lambda d: _ends_with_extension(d.address, desk)))
    rules.append((f"line name contains {desk!r}", lambda d: _whole_number_in(d.line_name, desk)))
    return rules


def _device(backend: Backend, h_app: int, device_id: int) -> Device:
    step = "lineNegotiateAPIVersion"
    try:
        api = backend.line_negotiate_api_version(h_app, device_id, API_LOW, API_HIGH)
        step = "lineGetDevCaps"
        dev_caps = backend.line_get_dev_caps(h_app, device_id, api)
        step = "lineGetAddressCaps"
        address = backend.line_get_address_caps(h_app, device_id, 0, api).address
    except LineError as exc:
        return Device(device_id, error=f"{step}: {exc.name}")
    return Device(device_id, api, dev_caps.line_name, address, dev_caps.num_addresses)


def list_devices(backend: Backend, h_app: int, devices: int) -> list[Device]:
    """Negotiate and read caps of every device; a device that will not answer is kept with its error."""
    return [_device(backend, h_app, device_id) for device_id in range(devices)]


def find_desk(backend: Backend, profile: Profile, h_app: int, devices: int) -> DeskSearch:
    """The desk device among ``devices`` (see the module docstring); ``device`` None when none matched.

    A device whose address *is* the extension ends the search at once (the simulator, most lab set-ups),
    so a run asks no more of the provider than it needs; otherwise every device is read and the rules
    are tried in order.

    Raises:
        HarnessError: two or more devices match at the best rule (ambiguous: name one in the PIXIT).
    """
    rules = _rules(profile)
    found: list[Device] = []
    for device_id in range(devices):
        device = _device(backend, h_app, device_id)
        found.append(device)
        if not device.error and rules[0][1](device):
            return DeskSearch(device, rules[0][0], found)
    usable = [d for d in found if not d.error]
    for how, predicate in rules[1:]:
        hits = [d for d in usable if predicate(d)]
        if len(hits) == 1:
            return DeskSearch(hits[0], how, found)
        if hits:
            raise HarnessError(f"the desk line is ambiguous: {len(hits)} devices match {how}: "
                               + "; ".join(d.describe() for d in hits)
                               + " - set pixit.party_lines.desk to a part of the right line name")
    return DeskSearch(None, "", found)


def _not_found(profile: Profile, search: DeskSearch, devices: int) -> HarnessError:
    seen = "; ".join(d.describe() for d in search.devices) or "none"
    return HarnessError(f"no line device is the desk {profile.pixit.desk!r} (pixit.desk; matched by address "
                        f"number, business number or line name) among {devices} devices: {seen}")


def open_desk_line(backend: Backend, profile: Profile, ext_version: int = 0, reuse: DeskLine | None = None
                   ) -> DeskLine:
    """lineInitializeEx, negotiate, find the desk device, lineOpen OWNER|MONITOR, enable status messages.

    With ``reuse`` the application and device of an earlier (closed) desk line are used again, e.g. to
    reopen the line with a provider extension version (native Remote Office). Devices skipped while
    searching are in ``DeskLine.skipped`` and noted in the run's log (``backend.note``) when it has one.

    Raises:
        HarnessError: no device (or more than one) is the desk line; the message lists every device.
        LineError: the desk device itself refused to be opened.
    """
    skipped: tuple[str, ...] = ()
    if reuse is None:
        h_line_app, devices, _ = backend.line_initialize_ex("ro-conformance", DEFAULT_API_VERSION)
    else:
        h_line_app, skipped = reuse.h_line_app, reuse.skipped
    try:
        if reuse is None:
            search = find_desk(backend, profile, h_line_app, devices)
            if search.device is None:
                raise _not_found(profile, search, devices)
            device_id, api, skipped = search.device.device_id, search.device.api_version, search.skipped
            note = getattr(backend, "note", None)
            if callable(note):
                note(f"desk line: device {device_id} ({search.how})")
                for text in skipped:
                    note(f"desk search: {text}")
        else:
            device_id, api = reuse.device_id, reuse.api_version
        if ext_version:
            ext_version = backend.line_negotiate_ext_version(h_line_app, device_id, api, ext_version, ext_version)
        dev_caps = backend.line_get_dev_caps(h_line_app, device_id, api, ext_version)
        addr_caps = backend.line_get_address_caps(h_line_app, device_id, 0, api, ext_version)
        h_line = backend.line_open(h_line_app, device_id, api, ext_version, 0, OWNER_MONITOR, INTERACTIVEVOICE)
        backend.line_set_status_messages(h_line, dev_caps.line_states, addr_caps.address_states)
    except BaseException:
        if reuse is None:
            backend.line_shutdown(h_line_app)
        raise
    return DeskLine(h_line_app, h_line, device_id, api, ext_version, dev_caps, addr_caps, skipped)
