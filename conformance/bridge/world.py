"""One served PBX ("world"): a backend, its clock driver, and the requests parked on it.

The server has one shared world (every connection that did not ask otherwise: CTI applications that
see each other's calls, as on a real PBX) and a private world per connection that called
``session.reset`` (what the conformance suite does: the state a fresh in-process backend has).

Parked waits (wall mode) are keyed by what can satisfy them, and only those are woken: a
``line_get_message`` wait by its hLineApp (one waiter per posted message), a ``party.wait_for`` by the
party's number (when a call at that device changes state). The simulator tells us both through its
``on_post`` / ``on_call_state`` hooks; a backend without them is polled every ``poll_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from simulator._clock import WallClock

__all__ = ["Mode", "NotifyingWallClock", "World"]

Mode = Literal["virtual", "wall", "poll"]
WaitKey = tuple[str, Any]         # ("app", hLineApp) or ("party", number)
log = logging.getLogger("ro_conformance.bridge")


class NotifyingWallClock(WallClock):
    """A WallClock for the server: never sleeps on the loop thread (the server waits with asyncio).

    ``on_fire`` is called after timers fired, whoever ran them (kept for hosts that want to know).
    """

    def __init__(self) -> None:
        super().__init__(sleep=lambda _s: None)
        self.on_fire: Callable[[], None] | None = None

    def run_due(self) -> int:
        fired = super().run_due()
        if fired and self.on_fire is not None:
            self.on_fire()
        return fired


class World:
    """A backend plus its parked waits; ``start()`` on the server's loop, ``close()`` when done."""

    def __init__(self, backend: Any, mode: Mode, *, private: bool = False,
                 on_post: Callable[[World, int], None] | None = None) -> None:
        self.backend = backend
        self.mode = mode
        self.private = private
        self._app_waits: dict[int, deque[asyncio.Future[None]]] = {}
        self._party_waits: dict[str, list[asyncio.Future[None]]] = {}
        self._kick: asyncio.Event | None = None
        self._driver: asyncio.Task[None] | None = None
        self._on_post = on_post
        self.owners: dict[int, Any] = {}     # hLineApp -> the server's connection that owns it
        # precise wake-ups need the simulator's hooks; any other backend is polled
        self.hooked = mode == "wall" and hasattr(backend, "on_post") and hasattr(backend, "on_call_state")

    # ----- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        if self.hooked:
            self.backend.on_post = self._posted
            self.backend.on_call_state = self._call_changed
        elif self._on_post is not None and hasattr(self.backend, "on_post"):
            self.backend.on_post = self._posted   # virtual mode: only the queue limit listens
        if self.mode == "wall":
            self._kick = asyncio.Event()
            self._driver = asyncio.get_running_loop().create_task(self._drive_clock())

    async def close(self) -> None:
        """Stop the driver; a private world also closes its backend (its state goes with it)."""
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
            self._driver = None
        for key in list(self._app_waits):
            self.wake_app(key, everyone=True)
        for number in list(self._party_waits):
            self._call_changed(number)
        if self.private:
            try:
                self.backend.close()
            except Exception:   # a backend bug must not keep the server from going on
                log.exception("bridge: closing a private backend failed")

    # ----- parking and waking --------------------------------------------------------------------
    def wait_key(self, method_name: str, args: list[Any]) -> WaitKey | None:
        """What can end this wait early; None: nothing tells us, poll."""
        if not self.hooked:
            return None
        if method_name == "line_get_message":
            return ("app", args[0])
        try:
            return ("party", self.backend.parties.number_of(args[0]))
        except Exception:
            return None   # an unknown role: the probe has already answered with the error

    def park(self, key: WaitKey) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if key[0] == "app":
            self._app_waits.setdefault(key[1], deque()).append(fut)
        else:
            self._party_waits.setdefault(key[1], []).append(fut)
        return fut

    def unpark(self, key: WaitKey, fut: asyncio.Future[None]) -> None:
        table: dict[Any, Any] = self._app_waits if key[0] == "app" else self._party_waits
        waiters = table.get(key[1])
        if waiters is None:
            return
        with contextlib.suppress(ValueError):
            waiters.remove(fut)
        if not waiters:
            del table[key[1]]

    @property
    def parked(self) -> int:
        return sum(map(len, self._app_waits.values())) + sum(map(len, self._party_waits.values()))

    def wake_app(self, h_line_app: int, *, everyone: bool = False) -> None:
        """A message for ``h_line_app`` (wake one waiter), or the app is gone (wake them all)."""
        waiters = self._app_waits.get(h_line_app)
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                if not everyone:
                    break
        if not waiters:
            self._app_waits.pop(h_line_app, None)

    def _posted(self, h_line_app: int) -> None:
        if self.hooked:
            self.wake_app(h_line_app)
        if self._on_post is not None:
            self._on_post(self, h_line_app)

    def _call_changed(self, number: str) -> None:
        for fut in self._party_waits.pop(number, ()):
            if not fut.done():
                fut.set_result(None)

    def kick(self) -> None:
        """A request ran: it may have scheduled timers earlier than the driver's next wake-up."""
        if self._kick is not None:
            self._kick.set()

    # ----- the wall clock ------------------------------------------------------------------------
    async def _drive_clock(self) -> None:
        """Wall mode: fire the simulator's timers as they fall due, sleeping in between."""
        clock = self.backend.clock
        kick = self._kick
        assert kick is not None
        while True:
            clock.now()
            clock.run_due()
            due = clock.next_due()
            delay = 1.0 if due is None else max(0.0, due - clock.now())
            if delay <= 0:
                await asyncio.sleep(0)
                continue
            kick.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(delay, 1.0)):   # cancellation-safe, unlike wait_for on 3.11
                    await kick.wait()
