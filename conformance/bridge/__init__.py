"""The network bridge: any Backend served as JSON-RPC 2.0 over WebSocket (see docs/bridge.md).

``protocol`` is the wire format both ends share, ``server`` the asyncio server behind
``ro-conformance serve``; the client is ``conformance.backends.bridge.BridgeBackend``.
"""
