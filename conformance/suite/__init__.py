"""The Remote Office conformance suite: one test per requirement id (RO-FWD-01 ...).

Run it with ``pytest --pyargs conformance.suite --tapi-profile PROFILE.yaml`` (the ``tapi`` pytest plugin
supplies the fixtures). The tests speak only the Backend contract (conformance/backend.py), so they
run unchanged on the simulator, over the bridge and on a real tapi32.dll.
"""
