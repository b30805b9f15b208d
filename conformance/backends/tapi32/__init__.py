"""The tapi32 backend: ctypes binding to tapi32.dll (Windows) or to its emulation (anywhere).

``Tapi32Backend`` (``_adapter``) implements the Backend contract over a function table (``_dll``): the
real DLL or any library with its exports (``tapi32:PATH``), or the tapi32 double
(``conformance.backends.tapi32_double``, ``tapi32:emulated``), which shares no code with this package.
Party control goes through other TAPI lines (``_parties``). Header layouts are in ``_structs``, buffer
codecs in ``_codec``. Importing this package loads no DLL, so it works on Linux.
"""

from conformance.backends.tapi32._adapter import Tapi32Backend

__all__ = ["Tapi32Backend"]
