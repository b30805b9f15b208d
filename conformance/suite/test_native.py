"""RO-NATIVE-01: a vendor one-number feature through lineDevSpecific (docs/tapi.md §12.2)."""

from __future__ import annotations

import pytest

from conformance.suite._flows import native_flow
from conformance.suite._session import LineSession


@pytest.mark.requirement("RO-NATIVE-01")
@pytest.mark.tapi_requires("native", "business_number_on_direct", "trunks>=2")
def test_ro_native_01_devspecific_remote_office(tapi_session: LineSession) -> None:
    """With the provider extension version negotiated (lineNegotiateExtVersion) and the line opened with
    it, lineDevSpecific(activate template with the RO number) is accepted (LINE_REPLY 0) and reported as
    LINE_DEVSPECIFIC; lineMakeCall to the target then rings the RO phone first, showing the business
    number, and only after it answers the target, again showing the business number; the target
    answers and talks to the RO phone (§12.2, Cisco CTI Remote Device model)."""
    native_flow(tapi_session, answer=True)
