"""Remote Office conformance suite for TAPI 2.x PBXs: pytest plugin, backends, reports, CLI."""
