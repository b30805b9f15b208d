"""ctypes layouts of the ``tapi.h`` structures the adapter and the emulated tapi32.dll exchange.

Everything here is declared under ``#pragma pack(1)`` in the header, hence ``_pack_ = 1`` on every class
(docs/tapi.md §0.1). ``HLINE``/``HCALL`` are ``DECLARE_OPAQUE32`` DWORDs, never pointers (§0.2);
``DWORD_PTR`` and ``HANDLE`` follow the pointer size (§0.3), which is the only thing that differs between
32- and 64-bit Windows.

The field lists are data (``_SPECS``), so one description yields both layouts:

* the module-level classes (``LINEMESSAGE``, ``LINECALLINFO``, ...) are the native layout of this Python;
* ``layouts(4)`` / ``layouts(8)`` build the 32- or 64-bit layout on any host, which is how the tests compare
  the i686 header with ctypes on an x86-64 Linux box.

``FIXED_SIZES[name][api_version]`` is the fixed part a TAPI function fills for a negotiated version
(docs/tapi.md §6.2); the tests prove each size is a field boundary in the compiled header layout.
Nothing here loads a DLL, so the module imports on Linux.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from simulator._constants import ApiVersion

__all__ = [
    "FIXED_SIZES",
    "GUID",
    "LINEADDRESSCAPS",
    "LINEADDRESSSTATUS",
    "LINECALLINFO",
    "LINECALLLIST",
    "LINECALLPARAMS",
    "LINECALLSTATUS",
    "LINEDEVCAPS",
    "LINEDEVSTATUS",
    "LINEDIALPARAMS",
    "LINEEXTENSIONID",
    "LINEFORWARD",
    "LINEFORWARDLIST",
    "LINEINITIALIZEEXPARAMS",
    "LINEMESSAGE",
    "LINETRANSLATEOUTPUT",
    "NATIVE_POINTER_SIZE",
    "STRUCT_NAMES",
    "SYSTEMTIME",
    "VARSTRING",
    "Layouts",
    "fixed_size",
    "layouts",
]

NATIVE_POINTER_SIZE: Final = ctypes.sizeof(ctypes.c_void_p)

# A ctypes type: a Structure, a Union, a simple type or an array of them.
CType = type[Any]


def _dwords(*names: str) -> list[tuple[str, str]]:
    return [(name, "DWORD") for name in names]


def _size_offset(*items: str) -> list[tuple[str, str]]:
    return _dwords(*(f"dw{item}{part}" for item in items for part in ("Size", "Offset")))


_HEAD = _dwords("dwTotalSize", "dwNeededSize", "dwUsedSize")
_PARTY = ("Caller", "Called", "Connected", "Redirection", "Redirecting")

# Header field order, one entry per C member; a type is a C type name, "T[n]" for an array, or a
# structure/union declared earlier in this dict. "Handles" is the anonymous union of LINEINITIALIZEEXPARAMS.
_SPECS: Final[dict[str, list[tuple[str, str]]]] = {
    "GUID": [("Data1", "DWORD"), ("Data2", "WORD"), ("Data3", "WORD"), ("Data4", "BYTE[8]")],
    "SYSTEMTIME": [(f"w{n}", "WORD") for n in
                   ("Year", "Month", "DayOfWeek", "Day", "Hour", "Minute", "Second", "Milliseconds")],
    "LINEDIALPARAMS": _dwords("dwDialPause", "dwDialSpeed", "dwDigitDuration", "dwWaitForDialtone"),
    "LINEEXTENSIONID": _dwords(*(f"dwExtensionID{i}" for i in range(4))),
    "LINEMESSAGE": [("hDevice", "DWORD"), ("dwMessageID", "DWORD"), ("dwCallbackInstance", "DWORD_PTR"),
                    ("dwParam1", "DWORD_PTR"), ("dwParam2", "DWORD_PTR"), ("dwParam3", "DWORD_PTR")],
    "Handles": [("hEvent", "HANDLE"), ("hCompletionPort", "HANDLE")],
    "LINEINITIALIZEEXPARAMS": [*_HEAD, ("dwOptions", "DWORD"), ("Handles", "Handles"),
                               ("dwCompletionKey", "DWORD")],
    "VARSTRING": [*_HEAD, ("dwStringFormat", "DWORD"), *_size_offset("String")],
    "LINECALLLIST": [*_HEAD, ("dwCallsNumEntries", "DWORD"), *_size_offset("Calls")],
    "LINETRANSLATEOUTPUT": [*_HEAD, *_size_offset("DialableString"), *_size_offset("DisplayableString"),
                            ("dwCurrentCountry", "DWORD"), ("dwDestCountry", "DWORD"),
                            ("dwTranslateResults", "DWORD")],
    "LINEFORWARD": [("dwForwardMode", "DWORD"), *_size_offset("CallerAddress"),
                    ("dwDestCountryCode", "DWORD"), *_size_offset("DestAddress"),
                    *_dwords("dwCallerAddressType", "dwDestAddressType")],
    "LINEFORWARDLIST": [*_dwords("dwTotalSize", "dwNumEntries"), ("ForwardList", "LINEFORWARD[1]")],
    "LINEADDRESSSTATUS": [*_HEAD, *_dwords(
        "dwNumInUse", "dwNumActiveCalls", "dwNumOnHoldCalls", "dwNumOnHoldPendCalls", "dwAddressFeatures",
        "dwNumRingsNoAnswer", "dwForwardNumEntries", "dwForwardSize", "dwForwardOffset"),
        *_size_offset("TerminalModes", "DevSpecific")],
    "LINECALLSTATUS": [*_HEAD, *_dwords("dwCallState", "dwCallStateMode", "dwCallPrivilege",
                                        "dwCallFeatures"), *_size_offset("DevSpecific"),
                       ("dwCallFeatures2", "DWORD"), ("tStateEntryTime", "SYSTEMTIME")],
    "LINEDEVCAPS": [*_HEAD, *_size_offset("ProviderInfo", "SwitchInfo"), ("dwPermanentLineID", "DWORD"),
                    *_size_offset("LineName"), *_dwords(
        "dwStringFormat", "dwAddressModes", "dwNumAddresses", "dwBearerModes", "dwMaxRate", "dwMediaModes",
        "dwGenerateToneModes", "dwGenerateToneMaxNumFreq", "dwGenerateDigitModes", "dwMonitorToneMaxNumFreq",
        "dwMonitorToneMaxNumEntries", "dwMonitorDigitModes", "dwGatherDigitsMinTimeout",
        "dwGatherDigitsMaxTimeout", "dwMedCtlDigitMaxListSize", "dwMedCtlMediaMaxListSize",
        "dwMedCtlToneMaxListSize", "dwMedCtlCallStateMaxListSize", "dwDevCapFlags", "dwMaxNumActiveCalls",
        "dwAnswerMode", "dwRingModes", "dwLineStates", "dwUUIAcceptSize", "dwUUIAnswerSize",
        "dwUUIMakeCallSize", "dwUUIDropSize", "dwUUISendUserUserInfoSize", "dwUUICallInfoSize"),
        ("MinDialParams", "LINEDIALPARAMS"), ("MaxDialParams", "LINEDIALPARAMS"),
        ("DefaultDialParams", "LINEDIALPARAMS"), ("dwNumTerminals", "DWORD"), *_size_offset("TerminalCaps"),
        ("dwTerminalTextEntrySize", "DWORD"), *_size_offset("TerminalText", "DevSpecific"),
        *_dwords("dwLineFeatures", "dwSettableDevStatus"), *_size_offset("DeviceClasses"),
        ("PermanentLineGuid", "GUID"), ("dwAddressTypes", "DWORD"), ("ProtocolGuid", "GUID"),
        ("dwAvailableTracking", "DWORD")],
    "LINEDEVSTATUS": [*_HEAD, *_dwords(
        "dwNumOpens", "dwOpenMediaModes", "dwNumActiveCalls", "dwNumOnHoldCalls", "dwNumOnHoldPendCalls",
        "dwLineFeatures", "dwNumCallCompletions", "dwRingMode", "dwSignalLevel", "dwBatteryLevel", "dwRoamMode",
        "dwDevStatusFlags"), *_size_offset("TerminalModes", "DevSpecific"), ("dwAvailableMediaModes", "DWORD"),
        *_size_offset("AppInfo")],
    "LINEADDRESSCAPS": [*_HEAD, ("dwLineDeviceID", "DWORD"), *_size_offset("Address", "DevSpecific"),
                        *_dwords("dwAddressSharing", "dwAddressStates", "dwCallInfoStates",
        *(f"dw{p}IDFlags" for p in _PARTY), "dwCallStates", "dwDialToneModes", "dwBusyModes",
        "dwSpecialInfo", "dwDisconnectModes", "dwMaxNumActiveCalls", "dwMaxNumOnHoldCalls",
        "dwMaxNumOnHoldPendingCalls", "dwMaxNumConference", "dwMaxNumTransConf", "dwAddrCapFlags",
        "dwCallFeatures", "dwRemoveFromConfCaps", "dwRemoveFromConfState", "dwTransferModes", "dwParkModes",
        "dwForwardModes", "dwMaxForwardEntries", "dwMaxSpecificEntries", "dwMinFwdNumRings",
        "dwMaxFwdNumRings", "dwMaxCallCompletions", "dwCallCompletionConds", "dwCallCompletionModes",
        "dwNumCompletionMessages", "dwCompletionMsgTextEntrySize"), *_size_offset("CompletionMsgText"),
        *_dwords("dwAddressFeatures", "dwPredictiveAutoTransferStates", "dwNumCallTreatments"),
        *_size_offset("CallTreatmentList", "DeviceClasses"), *_dwords(
        "dwMaxCallDataSize", "dwCallFeatures2", "dwMaxNoAnswerTimeout", "dwConnectedModes", "dwOfferingModes",
        "dwAvailableMediaModes")],
    "LINECALLINFO": [*_HEAD, ("hLine", "HLINE"), *_dwords(
        "dwLineDeviceID", "dwAddressID", "dwBearerMode", "dwRate", "dwMediaMode", "dwAppSpecific", "dwCallID",
        "dwRelatedCallID", "dwCallParamFlags", "dwCallStates", "dwMonitorDigitModes", "dwMonitorMediaModes"),
        ("DialParams", "LINEDIALPARAMS"), *_dwords(
        "dwOrigin", "dwReason", "dwCompletionID", "dwNumOwners", "dwNumMonitors", "dwCountryCode", "dwTrunk"),
        *(f for p in _PARTY for f in [(f"dw{p}IDFlags", "DWORD"), *_size_offset(f"{p}ID", f"{p}IDName")]),
        *_size_offset("AppName", "DisplayableAddress", "CalledParty", "Comment", "Display", "UserUserInfo",
                      "HighLevelComp", "LowLevelComp", "ChargingInfo", "TerminalModes", "DevSpecific"),
        ("dwCallTreatment", "DWORD"), *_size_offset("CallData", "SendingFlowspec", "ReceivingFlowspec"),
        *_dwords(*(f"dw{p}IDAddressType" for p in _PARTY))],
    "LINECALLPARAMS": [("dwTotalSize", "DWORD"), *_dwords(
        "dwBearerMode", "dwMinRate", "dwMaxRate", "dwMediaMode", "dwCallParamFlags", "dwAddressMode",
        "dwAddressID"), ("DialParams", "LINEDIALPARAMS"), *_size_offset(
        "OrigAddress", "DisplayableAddress", "CalledParty", "Comment", "UserUserInfo", "HighLevelComp",
        "LowLevelComp", "DevSpecific"), ("dwPredictiveAutoTransferStates", "DWORD"), *_size_offset(
        "TargetAddress", "SendingFlowspec", "ReceivingFlowspec", "DeviceClass", "DeviceConfig", "CallData"),
        ("dwNoAnswerTimeout", "DWORD"), *_size_offset("CallingPartyID"), ("dwAddressType", "DWORD")],
}

_UNIONS: Final = frozenset({"Handles"})
STRUCT_NAMES: Final[tuple[str, ...]] = tuple(name for name in _SPECS if name not in _UNIONS)


def _scalar(type_name: str, pointer_size: int) -> CType:
    pointer_sized = {4: ctypes.c_uint32, 8: ctypes.c_uint64}[pointer_size]
    if pointer_size == NATIVE_POINTER_SIZE:        # idiomatic native types; same size and alignment
        pointer_sized = ctypes.c_size_t
    native_handle = ctypes.c_void_p if pointer_size == NATIVE_POINTER_SIZE else pointer_sized
    table: dict[str, CType] = {"DWORD": ctypes.c_uint32, "HLINE": ctypes.c_uint32, "WORD": ctypes.c_uint16,
                               "BYTE": ctypes.c_uint8, "DWORD_PTR": pointer_sized, "HANDLE": native_handle}
    return table[type_name]


def _resolve(type_name: str, pointer_size: int, built: Mapping[str, CType]) -> CType:
    if type_name.endswith("]"):
        element, count = type_name[:-1].split("[")
        array: CType = _resolve(element, pointer_size, built) * int(count)
        return array
    if type_name in built:
        return built[type_name]
    return _scalar(type_name, pointer_size)


def _fields(name: str, pointer_size: int, built: Mapping[str, CType]) -> list[tuple[str, CType]]:
    return [(field, _resolve(type_name, pointer_size, built)) for field, type_name in _SPECS[name]]


def _make(name: str, pointer_size: int, built: Mapping[str, CType]) -> CType:
    base: type[ctypes.Structure] | type[ctypes.Union] = ctypes.Union if name in _UNIONS else ctypes.Structure
    # _layout_ "ms" is what Python >= 3.14 wants next to _pack_ off Windows; older versions ignore it.
    namespace = {"_pack_": 1, "_layout_": "ms", "_fields_": _fields(name, pointer_size, built),
                 "__module__": __name__, "__doc__": f"``{name}`` for {pointer_size * 8}-bit Windows."}
    return type(name, (base,), namespace)


@dataclass(frozen=True, slots=True)
class Layouts:
    """The classes of one pointer size, by header name (``layouts(4).LINEMESSAGE``)."""

    pointer_size: int
    GUID: type[ctypes.Structure]
    SYSTEMTIME: type[ctypes.Structure]
    LINEDIALPARAMS: type[ctypes.Structure]
    LINEEXTENSIONID: type[ctypes.Structure]
    LINEMESSAGE: type[ctypes.Structure]
    Handles: type[ctypes.Union]
    LINEINITIALIZEEXPARAMS: type[ctypes.Structure]
    VARSTRING: type[ctypes.Structure]
    LINECALLLIST: type[ctypes.Structure]
    LINETRANSLATEOUTPUT: type[ctypes.Structure]
    LINEFORWARD: type[ctypes.Structure]
    LINEFORWARDLIST: type[ctypes.Structure]
    LINEADDRESSSTATUS: type[ctypes.Structure]
    LINECALLSTATUS: type[ctypes.Structure]
    LINEDEVCAPS: type[ctypes.Structure]
    LINEDEVSTATUS: type[ctypes.Structure]
    LINEADDRESSCAPS: type[ctypes.Structure]
    LINECALLINFO: type[ctypes.Structure]
    LINECALLPARAMS: type[ctypes.Structure]

    def by_name(self, name: str) -> type[ctypes.Structure]:
        cls: type[ctypes.Structure] = getattr(self, name)
        return cls


def _build(pointer_size: int) -> Layouts:
    built: dict[str, CType] = {}
    for name in _SPECS:                             # declaration order = dependency order
        built[name] = _make(name, pointer_size, built)
    return Layouts(pointer_size=pointer_size, **built)


# The native layout as real class statements, so type checkers and readers see classes. Each one pulls
# its fields from _SPECS, resolving nested structures to the classes declared above it.
_NATIVE: dict[str, CType] = {}


def _native_fields(name: str) -> list[tuple[str, CType]]:
    return _fields(name, NATIVE_POINTER_SIZE, _NATIVE)


class GUID(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("GUID")


_NATIVE["GUID"] = GUID


class SYSTEMTIME(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("SYSTEMTIME")


_NATIVE["SYSTEMTIME"] = SYSTEMTIME


class LINEDIALPARAMS(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEDIALPARAMS")


_NATIVE["LINEDIALPARAMS"] = LINEDIALPARAMS


class LINEEXTENSIONID(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEEXTENSIONID")


_NATIVE["LINEEXTENSIONID"] = LINEEXTENSIONID


class LINEMESSAGE(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEMESSAGE")


_NATIVE["LINEMESSAGE"] = LINEMESSAGE


class _Handles(ctypes.Union):
    """The anonymous ``Handles`` union of LINEINITIALIZEEXPARAMS (``hEvent`` / ``hCompletionPort``)."""

    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("Handles")


_NATIVE["Handles"] = _Handles


class LINEINITIALIZEEXPARAMS(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEINITIALIZEEXPARAMS")


_NATIVE["LINEINITIALIZEEXPARAMS"] = LINEINITIALIZEEXPARAMS


class VARSTRING(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("VARSTRING")


_NATIVE["VARSTRING"] = VARSTRING


class LINETRANSLATEOUTPUT(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINETRANSLATEOUTPUT")


_NATIVE["LINETRANSLATEOUTPUT"] = LINETRANSLATEOUTPUT


class LINECALLLIST(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINECALLLIST")


_NATIVE["LINECALLLIST"] = LINECALLLIST


class LINEFORWARD(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEFORWARD")


_NATIVE["LINEFORWARD"] = LINEFORWARD


class LINEFORWARDLIST(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEFORWARDLIST")


_NATIVE["LINEFORWARDLIST"] = LINEFORWARDLIST


class LINEADDRESSSTATUS(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEADDRESSSTATUS")


_NATIVE["LINEADDRESSSTATUS"] = LINEADDRESSSTATUS


class LINECALLSTATUS(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINECALLSTATUS")


_NATIVE["LINECALLSTATUS"] = LINECALLSTATUS


class LINEDEVCAPS(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEDEVCAPS")


_NATIVE["LINEDEVCAPS"] = LINEDEVCAPS


class LINEDEVSTATUS(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEDEVSTATUS")


_NATIVE["LINEDEVSTATUS"] = LINEDEVSTATUS


class LINEADDRESSCAPS(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINEADDRESSCAPS")


_NATIVE["LINEADDRESSCAPS"] = LINEADDRESSCAPS


class LINECALLINFO(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINECALLINFO")


_NATIVE["LINECALLINFO"] = LINECALLINFO


class LINECALLPARAMS(ctypes.Structure):
    _pack_ = 1
    _layout_ = "ms"
    _fields_ = _native_fields("LINECALLPARAMS")


_NATIVE["LINECALLPARAMS"] = LINECALLPARAMS


_cache: dict[int, Layouts] = {NATIVE_POINTER_SIZE: Layouts(pointer_size=NATIVE_POINTER_SIZE, **_NATIVE)}


def layouts(pointer_size: int) -> Layouts:
    """The structures as laid out on Windows with ``pointer_size``-byte pointers (4 = x86, 8 = x64).

    ``layouts(NATIVE_POINTER_SIZE)`` holds the module-level classes themselves.
    """
    if pointer_size not in (4, 8):
        raise ValueError(f"pointer_size must be 4 or 8, not {pointer_size}")
    if pointer_size not in _cache:
        _cache[pointer_size] = _build(pointer_size)
    return _cache[pointer_size]


def _per_version(*sizes: int) -> dict[int, int]:
    """Sizes for 1.3, 1.4, 2.0, 2.1, 2.2, 3.0, 3.1, in that order."""
    return dict(zip((int(v) for v in ApiVersion), sizes, strict=True))


# docs/tapi.md §6.2/§6.3. The variable-length structures TAPI fills or reads are sized by the API
# version negotiated for the device; the others do not change. LINEFORWARDLIST is its 8-byte header.
FIXED_SIZES: Final[dict[str, dict[int, int]]] = {
    "LINEDEVCAPS": _per_version(236, 240, 252, 252, 268, 292, 292),
    "LINEADDRESSCAPS": _per_version(176, 180, 228, 228, 228, 228, 228),
    "LINEADDRESSSTATUS": _per_version(*[64] * 7),
    # 2.0 added dwAvailableMediaModes and the LINEAPPINFO array (dwAppInfoSize/Offset)
    "LINEDEVSTATUS": _per_version(76, 76, 88, 88, 88, 88, 88),
    "LINECALLINFO": _per_version(296, 296, 324, 324, 324, 344, 344),
    "LINECALLSTATUS": _per_version(36, 36, 56, 56, 56, 56, 56),
    "LINECALLPARAMS": _per_version(112, 112, 176, 176, 176, 180, 180),
    "LINEFORWARD": _per_version(24, 24, 24, 24, 24, 24, 32),
    "LINEFORWARDLIST": _per_version(*[8] * 7),
    "LINECALLLIST": _per_version(*[24] * 7),
    "VARSTRING": _per_version(*[24] * 7),
    "LINETRANSLATEOUTPUT": _per_version(*[40] * 7),
}


def fixed_size(struct_name: str, api_version: int) -> int:
    """The fixed part of ``struct_name`` for a negotiated ``api_version``.

    A version between two known ones (say 0x00020003) gets the size of the highest known version below it.
    Raises ``ValueError`` for a version older than 1.3, which TAPI 2.x never negotiates.
    """
    sizes = FIXED_SIZES[struct_name]
    known = [v for v in sizes if v <= api_version]
    if not known:
        raise ValueError(f"API version 0x{api_version:08X} is older than TAPI 1.3")
    return sizes[max(known)]
