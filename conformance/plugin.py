"""pytest plugin (entry point ``pytest11: tapi``). Inert unless its options or fixtures are used."""
