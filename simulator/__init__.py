"""Pure-Python TAPI 2.x provider simulator of a PBX, driven by YAML profiles."""
