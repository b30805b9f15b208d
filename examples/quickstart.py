"""Quick start: drive the simulated PBX through TAPI from Python (runs in microseconds of wall time).

Run: ``python examples/quickstart.py`` (from the repository root). ``tests/test_examples.py`` runs it too,
so it cannot go stale.
"""

from __future__ import annotations

from conformance.backends.sim import SimBackend
from simulator._constants import LineAddressState, LineCallState, LineMsg, LineTransferMode
from simulator._messages import LineMessage


def main(profile: str = "profiles/reference.yaml") -> list[str]:
    log: list[str] = []
    pbx = SimBackend(profile)                      # in-process TAPI provider, virtual clock
    app, _num_devs, _version = pbx.line_initialize_ex("quickstart", 0x00020002)
    line = pbx.line_open(app, 0, 0x00020002)       # device 0 = the desk phone, extension 201
    pbx.line_set_status_messages(line, 0, LineAddressState.FORWARD)

    def until(pred: object, timeout: float = 30.0) -> LineMessage:
        while (msg := pbx.line_get_message(app, timeout)) is not None:   # waiting moves virtual time
            log.append(f"{msg.time:6.2f}s {msg.describe()}")
            if callable(pred) and pred(msg):
                return msg
        raise TimeoutError("no such message")

    # 1. the desk phone calls the Remote Office (mobile) number hands-free
    req = pbx.line_make_call(line, "001711234567")
    reply = until(lambda m: m.msg == LineMsg.REPLY and m.request_id == req)
    ro_leg = reply.new_call                         # the handle is valid from the reply on
    until(lambda m: m.msg == LineMsg.CALLSTATE and m.param1 == LineCallState.CONNECTED)

    # 2. consultation transfer to the target, completed while the target still rings
    req = pbx.line_setup_transfer(ro_leg)
    consult = until(lambda m: m.msg == LineMsg.REPLY and m.request_id == req).new_call
    pbx.line_dial(consult, "00301234567")
    until(lambda m: m.msg == LineMsg.CALLSTATE and m.device == consult and m.param1 == LineCallState.RINGBACK)
    pbx.line_complete_transfer(ro_leg, consult, LineTransferMode.TRANSFER)
    until(lambda m: m.msg == LineMsg.CALLSTATE and m.device == ro_leg and m.param1 == LineCallState.IDLE)

    # 3. what the target sees: the business number, not the mobile's
    view = pbx.parties.wait_for("target", frozenset({"connected"}), 30)
    log.append(f"target: {view}")
    for handle in (ro_leg, consult):
        pbx.line_deallocate_call(handle)
    pbx.parties.hang_up("target")
    pbx.close()
    return log


if __name__ == "__main__":
    print("\n".join(main()))
