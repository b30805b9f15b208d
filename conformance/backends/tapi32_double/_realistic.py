"""``pbx=realistic``: the tapi32 double behaves like a vendor's TSP, not like the simulator's tidy one.

``RealTsp`` sits between the double's exports and the simulator's provider and changes what an
application sees, the way real installations differ from the simulator (issue 10; docs/tapi.md §2, §3):

* **Canonical addresses.** A station's LINEADDRESSCAPS address is its full number as TSPs print it
  (``+49 89 1234-201``), not the extension; line names are "Name (extension)".
* **A device that will not talk.** Device 0 is a modem: lineGetDevCaps works, lineGetAddressCaps fails
  with LINEERR_NODRIVER, lineOpen for voice with LINEERR_INVALMEDIAMODE. All other device ids move up
  by one, also inside LINEADDRESSCAPS / LINECALLINFO ``dwLineDeviceID``.
* **External numbers are not TAPI lines.** The Remote Office, target and caller numbers are reached
  through a trunk loop that ends on CTI ports ``CTI Port 250``.. (``+49 89 1234-250``..); nothing on
  the TAPI side carries the external number. A CTI port, like Cisco's, wants AUTOMATEDVOICE among the
  media modes of an OWNER lineOpen and lineAccept before lineAnswer (LINEADDRCAPFLAGS_ACCEPTTOALERT);
  lineAnswer of an offered call not accepted is LINEERR_INVALCALLSTATE.
* **Another application owns the desk's offered calls.** An "Attendant console" application opened
  the desk line OWNER before anyone else, so the offered calls are its; others get MONITOR and must
  ask with lineSetCallPrivilege. It never answers; it drops a call whose far end left and deallocates
  it when IDLE, as a tidy application does.
* **LINE_CREATE mid-run.** The caller's CTI port is plugged in at the first wait after the first lineOpen:
  until then it is not in the device count; then every application gets LINE_CREATE with its id.
* Request ids are numbered per application (done in ``_double``, where the request buffers are kept).

``run_profile(profile)`` is the profile a tester would write for this installation: the PIXIT names the
CTI ports as party lines (``pixit.party_lines``) with their options (AUTOMATEDVOICE, ``accept``), unless
the profile already configures a role.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import deque
from typing import Any, Final

from simulator._calls import Device
from simulator._constants import (
    ApiVersion,
    LineAddrCapFlags,
    LineBearerMode,
    LineCallPrivilege,
    LineCallState,
    LineErr,
    LineMediaMode,
    LineMsg,
    StringFormat,
)
from simulator._errors import LineError
from simulator._partyview import EXTERNAL_ROLES
from simulator._profile_model import Profile
from simulator._provider import Provider
from simulator._provider_core import App
from simulator._structs import LineAddressCaps, LineCallInfo, LineDevCaps

__all__ = ["ATTENDANT", "CREATE_AFTER", "PORT_BASE", "RealTsp", "canonical", "run_profile"]

MODEM: Final = -1                        # the view's entry for the modem (no provider device)
PORT_BASE: Final = 250                   # CTI ports 250, 251, 252 play remote_office, target, caller
CREATE_AFTER: Final = 0.0                # the late port appears at the first wait after the first lineOpen
ATTENDANT: Final = "Attendant console"
_LATE_ROLE: Final = "caller"


def canonical(number: str, extension: str) -> str:
    """``+49891234201`` with extension ``201`` -> ``+49 89 1234-201`` (the print form of many TSPs);
    a number that does not end with its extension, or is not ``+``-canonical, is returned unchanged."""
    if not number.startswith("+") or not number.endswith(extension) or len(number) - len(extension) < 6:
        return number or extension
    base = number[:-len(extension)]
    return f"{base[:3]} {base[3:5]} {base[5:]}-{extension}"


def _port_name(index: int) -> str:
    return f"CTI Port {PORT_BASE + index}"


def run_profile(profile: Profile) -> Profile:
    """The profile with the CTI ports configured as party lines (see the module docstring)."""
    pixit = profile.pixit
    lines, options = dict(pixit.party_lines), {k: dict(v) for k, v in pixit.party_line_options.items()}
    for index, role in enumerate(EXTERNAL_ROLES):
        if role not in lines:
            lines[role] = _port_name(index)
            options.setdefault(role, {"media_modes": ["AUTOMATEDVOICE", "INTERACTIVEVOICE"], "accept": True})
    return dataclasses.replace(profile, pixit=dataclasses.replace(pixit, party_lines=lines,
                                                                  party_line_options=options))


class RealTsp:
    """The provider as a vendor TSP shows it (see the module docstring); unknown names go to it."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        profile = provider.profile
        self._ports: dict[int, int] = {}         # provider device id -> port index
        late = -1
        for index, role in enumerate(EXTERNAL_ROLES):
            device = provider.pbx.device(getattr(profile.pixit, role))
            if not device.is_station and device.line_id is not None:
                self._ports[device.line_id] = index
                if role == _LATE_ROLE:
                    late = device.line_id
        self._view: list[int] = [MODEM, *(p for p in range(len(provider.devices)) if p != late)]
        self._late = late
        self._create_timer: Any = None
        self._accepted: set[int] = set()          # hCalls an application accepted
        self._attendant = self._start_attendant()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.provider, name)

    # ----- devices ------------------------------------------------------------------------------
    def _pid(self, device_id: int, function: str) -> int:
        if not 0 <= device_id < len(self._view):
            raise LineError(LineErr.BADDEVICEID, function, f"device {device_id} of {len(self._view)}")
        return self._view[device_id]

    def _ext(self, pid: int) -> int:
        return self._view.index(pid) if pid in self._view else 0xFFFFFFFF

    def _device(self, pid: int) -> Device:
        return self.provider.devices[pid]

    def _address(self, pid: int) -> str:
        desk = self.provider.profile.station(self.provider.profile.pixit.desk)
        base = canonical(desk.business_number, desk.extension)
        if pid in self._ports:
            prefix = base[:-len(desk.extension)] if base != desk.business_number else ""
            return f"{prefix}{PORT_BASE + self._ports[pid]}"
        device = self._device(pid)
        station = next((s for s in self.provider.profile.stations if s.extension == device.number), None)
        return canonical(station.business_number, station.extension) if station else device.number

    def device_for(self, device_id: int, function: str) -> Device:
        pid = self._pid(device_id, function)
        if pid == MODEM:
            raise LineError(LineErr.NODRIVER, function, "device 0 is a modem")
        return self._device(pid)

    # ----- the attendant console that owns the desk's offered calls -----------------------------
    def _start_attendant(self) -> int:
        provider = self.provider
        h_app, _n, _v = provider.line_initialize_ex(ATTENDANT, ApiVersion.V2_2)
        provider.apps[h_app].queue = deque(maxlen=256)   # nobody reads it; it must not grow
        desk = provider.pbx.device(provider.profile.pixit.desk)
        assert desk.line_id is not None
        provider.line_open(h_app, desk.line_id, ApiVersion.V2_2, 0, 0, int(LineCallPrivilege.OWNER),
                           int(LineMediaMode.INTERACTIVEVOICE))
        return h_app

    def posted(self, app: App, msg: int, device: int, p1: int) -> None:
        """Every message the provider posts: the attendant behaves like a tidy application - it drops a
        call of its that the far end left (DISCONNECTED) and deallocates it once IDLE."""
        if app.handle == self._attendant and msg == LineMsg.CALLSTATE:
            if p1 == LineCallState.DISCONNECTED:
                self.provider.clock.schedule(0.0, self._let_go, device, False)
            elif p1 == LineCallState.IDLE:
                self.provider.clock.schedule(0.0, self._let_go, device, True)

    def _let_go(self, h_call: int, deallocate: bool) -> None:
        handle = self.provider.handles.get(h_call)
        if handle is None:
            return
        if deallocate:
            self.provider.line_deallocate_call(h_call)
        elif handle.call.handles.get(h_call) == LineCallPrivilege.OWNER:
            with contextlib.suppress(LineError):     # someone else dropped it meanwhile
                self.provider.line_drop(h_call)

    # ----- the functions that differ ------------------------------------------------------------
    def line_initialize_ex(self, app_name: str, api_version: int = ApiVersion.V2_2) -> tuple[int, int, int]:
        h_app, _n, version = self.provider.line_initialize_ex(app_name, api_version)
        return h_app, len(self._view), version

    def line_negotiate_api_version(self, h_line_app: int, device_id: int, low: int, high: int) -> int:
        fn = "lineNegotiateAPIVersion"
        pid = self._pid(device_id, fn)
        if pid != MODEM:
            return int(self.provider.line_negotiate_api_version(h_line_app, pid, low, high))
        self.provider.app(h_line_app, fn)
        if low > ApiVersion.V2_0 or high < ApiVersion.V1_4:
            raise LineError(LineErr.INCOMPATIBLEAPIVERSION, fn, "the modem's TSP supports 1.4 .. 2.0")
        return int(min(high, ApiVersion.V2_0))

    def line_negotiate_ext_version(self, h_line_app: int, device_id: int, api_version: int, low: int,
                                   high: int) -> int:
        pid = self._pid(device_id, "lineNegotiateExtVersion")
        if pid == MODEM:
            raise LineError(LineErr.OPERATIONUNAVAIL, "lineNegotiateExtVersion", "no extension on the modem")
        return int(self.provider.line_negotiate_ext_version(h_line_app, pid, api_version, low, high))

    def line_get_dev_caps(self, h_line_app: int, device_id: int, api_version: int,
                          ext_version: int = 0) -> LineDevCaps:
        pid = self._pid(device_id, "lineGetDevCaps")
        if pid == MODEM:
            self.provider.app(h_line_app, "lineGetDevCaps")
            return LineDevCaps(provider_info="Unimodem 5", line_name="Standard 56000 bps Modem",
                               permanent_line_id=0x4D00, string_format=int(StringFormat.ASCII),
                               num_addresses=1, bearer_modes=int(LineBearerMode.VOICE),
                               media_modes=int(LineMediaMode.DATAMODEM), max_num_active_calls=1)
        caps = self.provider.line_get_dev_caps(h_line_app, pid, api_version, ext_version)
        if pid in self._ports:
            name = _port_name(self._ports[pid])
            media = int(caps.media_modes | LineMediaMode.AUTOMATEDVOICE)
        else:
            device = self._device(pid)
            name, media = (f"{device.name} ({device.number})" if device.name else device.number), caps.media_modes
        return dataclasses.replace(caps, line_name=name, media_modes=int(media),
                                   provider_info=f"{self.provider.profile.vendor or 'Vendor'} TSP 7.2")

    def line_get_address_caps(self, h_line_app: int, device_id: int, address_id: int, api_version: int,
                              ext_version: int = 0) -> LineAddressCaps:
        fn = "lineGetAddressCaps"
        pid = self._pid(device_id, fn)
        if pid == MODEM:
            self.provider.app(h_line_app, fn)
            raise LineError(LineErr.NODRIVER, fn, "the modem's TSP has no address capabilities")
        caps = self.provider.line_get_address_caps(h_line_app, pid, address_id, api_version, ext_version)
        flags = caps.addr_cap_flags | (LineAddrCapFlags.ACCEPTTOALERT if pid in self._ports else 0)
        return dataclasses.replace(caps, address=self._address(pid), line_device_id=device_id,
                                   addr_cap_flags=int(flags))

    def line_open(self, h_line_app: int, device_id: int, api_version: int, ext_version: int = 0,
                  callback_instance: int = 0, privileges: int = 0, media_modes: int = 0) -> int:
        fn = "lineOpen"
        pid = self._pid(device_id, fn)
        if pid == MODEM:
            self.provider.app(h_line_app, fn)
            raise LineError(LineErr.INVALMEDIAMODE, fn, "the modem takes data calls only")
        wants_owner = privileges & LineCallPrivilege.OWNER
        if pid in self._ports and wants_owner and not media_modes & LineMediaMode.AUTOMATEDVOICE:
            raise LineError(LineErr.INVALMEDIAMODE, fn, f"{_port_name(self._ports[pid])} is a CTI port: "
                            "OWNER needs LINEMEDIAMODE_AUTOMATEDVOICE")
        h_line = self.provider.line_open(h_line_app, pid, api_version, ext_version, callback_instance, privileges,
                                         media_modes & ~LineMediaMode.AUTOMATEDVOICE or media_modes)
        if self._late >= 0 and self._create_timer is None:
            self._create_timer = self.provider.clock.schedule(CREATE_AFTER, self._plug_in_late_port)
        return int(h_line)

    def _plug_in_late_port(self) -> None:
        self._view.append(self._late)
        new_id = len(self._view) - 1
        for app in list(self.provider.apps.values()):
            self.provider.post(app, LineMsg.CREATE, 0, new_id)

    def line_get_call_info(self, h_call: int) -> LineCallInfo:
        info = self.provider.line_get_call_info(h_call)
        return dataclasses.replace(info, line_device_id=self._ext(info.line_device_id))

    def line_accept(self, h_call: int) -> int:
        request = int(self.provider.line_accept(h_call))   # type: ignore[attr-defined]
        self._accepted.add(h_call)
        return request

    def line_answer(self, h_call: int) -> int:
        handle = self.provider.handles.get(h_call)
        if (handle is not None and handle.line.device_id in self._ports and h_call not in self._accepted
                and handle.call.state_name == "OFFERING"):
            raise LineError(LineErr.INVALCALLSTATE, "lineAnswer", "a CTI port's offered call needs lineAccept first")
        self._accepted.discard(h_call)
        return int(self.provider.line_answer(h_call))

    def line_deallocate_call(self, h_call: int) -> None:
        self._accepted.discard(h_call)
        self.provider.line_deallocate_call(h_call)
