"""``tapi32:PATH``: the adapter drives any library with tapi32's exports, here one built from C against
the SDK header (``examples/tapi32-like``) with the system gcc and ``-fshort-wchar``.

This is the seam through which an independent double can be held against the adapter, and it runs the
adapter's real-DLL code path: real time, a message pump with a finite timeout, UTF-16 strings in
memory, exports bound one by one (the library has only nine of them).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance._registry import open_backend
from conformance.backends.tapi32 import Tapi32Backend
from conformance.backends.tapi32._dll import FUNCTION_NAMES, MissingExport, bind
from simulator._constants import ApiVersion, LineDevState, LineErr, LineMsg
from simulator._errors import BackendUnavailable
from simulator._profile import load_profile

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tapi32-like"
HEADER_DIR = Path("/usr/share/mingw-w64/include")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="builds a Linux shared library")


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None or not (HEADER_DIR / "tapi.h").is_file():
        pytest.skip("needs gcc and mingw-w64 tapi.h (apt-get install gcc mingw-w64-x86-64-dev)")
    out = tmp_path_factory.mktemp("tapi32like") / "libtapi32like.so"
    done = subprocess.run([gcc, "-shared", "-fPIC", "-fshort-wchar", "-Wall", "-Werror",
                           f"-I{EXAMPLE / 'include'}", "-idirafter", str(HEADER_DIR), "-o", str(out),
                           str(EXAMPLE / "tapi32_like.c"), "-lpthread"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def backend(library: Path) -> Iterator[Tapi32Backend]:
    profile = load_profile(ROOT / "profiles" / "reference.yaml")
    opened = open_backend(f"tapi32:{library}", profile)
    assert isinstance(opened, Tapi32Backend)
    yield opened
    opened.close()


def test_initialise_negotiate_read_caps_and_open_the_desk_line(backend: Tapi32Backend) -> None:
    h_app, num_devs, version = backend.line_initialize_ex("RO-Konformität ☎")
    assert num_devs == 1 and version == ApiVersion.V2_2
    api = backend.line_negotiate_api_version(h_app, 0, ApiVersion.V1_3, ApiVersion.V3_1)
    assert api == ApiVersion.V2_2
    caps = backend.line_get_dev_caps(h_app, 0, api)
    # the library echoes the UTF-16 app name and writes a non-ASCII line name: both intact
    assert caps.provider_info == "RO-Konformität ☎" and caps.line_name == "Desk 201 été"
    assert backend.line_get_address_caps(h_app, 0, 0, api).address == "+49 89 1234-201"
    h_line = backend.line_open(h_app, 0, api)
    message = backend.line_get_message(h_app, 5.0)
    assert message is not None and message.msg == LineMsg.LINEDEVSTATE
    assert message.param1 == LineDevState.OPEN
    backend.line_close(h_line)
    backend.line_shutdown(h_app)


def test_the_wall_clock_path_waits_in_real_time(backend: Tapi32Backend) -> None:
    h_app, _n, _v = backend.line_initialize_ex("clock")
    assert backend._pump_timeout != 0xFFFFFFFF          # the pump wakes up to notice a stop
    started = time.monotonic()
    assert backend.line_get_message(h_app, 0.4) is None
    assert 0.35 <= time.monotonic() - started < 5.0
    assert backend.now() >= 0.35                        # the adapter's clock is the real one
    backend.line_shutdown(h_app)


def test_a_missing_export_is_named_on_first_use(backend: Tapi32Backend, library: Path) -> None:
    assert "lineForwardW" in backend.fn.missing and "lineOpenW" not in backend.fn.missing
    h_app, _n, _v = backend.line_initialize_ex("missing")
    h_line = backend.line_open(h_app, 0, ApiVersion.V2_2)
    with pytest.raises(MissingExport) as info:
        backend.line_forward(h_line, True, 0, None)
    assert info.value.code == LineErr.OPERATIONUNAVAIL and info.value.function == "lineForwardW"
    assert str(library) in str(info.value) and "no export lineForwardW" in str(info.value)
    backend.line_shutdown(h_app)


def test_wines_missing_exports_do_not_stop_the_load() -> None:
    wine_lacks = {"lineForwardW", "lineBlindTransferW", "lineSetupTransferW", "lineGetAddressStatusW",
                  "lineGetAddressCapsW", "lineRedirectW"}

    table = bind(_Exports({n for n in FUNCTION_NAMES if n not in wine_lacks}), "wine tapi32.dll")
    assert set(table.missing) == wine_lacks
    for name in wine_lacks:
        with pytest.raises(MissingExport, match=f"wine tapi32.dll has no export {name}"):
            getattr(table, name)(0, 0, 0)
    with pytest.raises(BackendUnavailable, match="none of tapi32's exports"):
        bind(_Exports(set()), "empty.dll")


class _Exports:
    """Real C function pointers for ``names`` (each returns 0); any other name raises OSError as ctypes'
    CDLL/WinDLL do for a symbol the library lacks."""

    def __init__(self, names: set[str]) -> None:
        self._fns = {n: ctypes.CFUNCTYPE(ctypes.c_int32)(lambda: 0) for n in names}

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.__dict__["_fns"][name]
        except KeyError:
            raise OSError(f"function '{name}' not found") from None


def test_a_path_that_is_no_library_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="no library at"):
        open_backend(f"tapi32:{tmp_path / 'nope.so'}", None)
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF")
    with pytest.raises(BackendUnavailable, match=r"cannot load .*junk\.so"):
        open_backend(f"tapi32:{junk}", None)
