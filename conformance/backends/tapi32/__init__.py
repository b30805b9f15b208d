"""The tapi32 backend's ctypes side: header layouts (``_structs``), C buffer <-> value codecs (``_codec``)."""
