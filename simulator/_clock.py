"""A discrete-event scheduler: simulated delays cost no wall time, and order is deterministic.

Every delay in the simulator (PBX latency, dial progress, rings, timeouts) is a scheduled callback.
``VirtualClock`` jumps from one due event to the next; ``WallClock`` runs the very same queue against
real time (the network server needs that). Ties are broken by insertion order, so the same profile and
the same requests always give the same event sequence.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Clock", "Timer", "VirtualClock", "WallClock"]


class Timer:
    """A scheduled callback; ``cancel()`` makes it a no-op (it is dropped lazily from the heap)."""

    __slots__ = ("args", "callback", "due", "seq")

    def __init__(self, due: float, seq: int, callback: Callable[..., Any] | None, args: tuple[Any, ...]) -> None:
        self.due = due
        self.seq = seq
        self.callback = callback
        self.args = args

    def cancel(self) -> None:
        self.callback = None
        self.args = ()

    @property
    def active(self) -> bool:
        return self.callback is not None

    def __lt__(self, other: Timer) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class Clock:
    """The shared scheduler. Subclasses decide how time passes while waiting."""

    def __init__(self) -> None:
        # (due, seq, timer) entries: heapq compares the tuples in C (due, then insertion order; seq is
        # unique, so the Timer itself is never compared). A Timer.__lt__ made every sift a Python call.
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._now = 0.0
        self._live = 0

    def now(self) -> float:
        return self._now

    def schedule(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        due = self._now + delay if delay > 0.0 else self._now
        seq = next(self._seq)
        timer = Timer(due, seq, callback, args)
        heapq.heappush(self._heap, (due, seq, timer))
        return timer

    def pending(self) -> int:
        """Number of timers still due to fire (cancelled ones excluded)."""
        return sum(1 for _, _, t in self._heap if t.callback is not None)

    def active_timers(self) -> list[Timer]:
        """The timers still due to fire, in firing order (introspection for leak checks)."""
        return [t for _, _, t in sorted(self._heap) if t.callback is not None]

    def next_due(self) -> float | None:
        heap = self._heap
        while heap and heap[0][2].callback is None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_due(self) -> int:
        """Fire every timer due at or before now; returns how many fired."""
        fired = 0
        heap, pop = self._heap, heapq.heappop
        while heap and heap[0][0] <= self._now:
            timer = pop(heap)[2]
            callback, args = timer.callback, timer.args
            if callback is None:
                continue
            timer.cancel()
            callback(*args)
            fired += 1
        return fired

    def step(self, until: float) -> bool:
        """Advance to the next due timer if it is at or before ``until``; False when none is."""
        raise NotImplementedError

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass, firing everything that falls due on the way."""
        until = self._now + seconds
        while self.step(until):
            pass
        self._set_now(max(self._now, until))
        self.run_due()

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Let time pass until ``done()`` holds or ``timeout`` seconds went by; returns ``done()``."""
        self.run_due()
        until = self._now + timeout
        while not done():
            if not self.step(until):
                self._set_now(max(self._now, until))
                self.run_due()
                return done()
        return True

    def _set_now(self, value: float) -> None:
        self._now = value


class VirtualClock(Clock):
    """Time jumps straight to the next due event: a 30 s no-answer costs microseconds."""

    def step(self, until: float) -> bool:
        due = self.next_due()
        if due is None or due > until:
            return False
        self._now = max(self._now, due)
        self.run_due()
        return True


class WallClock(Clock):
    """The same queue, following real time (monotonic seconds since the clock was made)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self._origin = time.monotonic()
        self._sleep = sleep

    def now(self) -> float:
        self._now = time.monotonic() - self._origin
        return self._now

    def schedule(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        self.now()
        return super().schedule(delay, callback, *args)

    def step(self, until: float) -> bool:
        due = self.next_due()
        now = self.now()
        target = until if due is None else min(due, until)
        if target > now:
            self._sleep(min(target - now, 0.05))
            self.now()
        fired = self.run_due()
        return fired > 0 or self.now() < until

    def _set_now(self, value: float) -> None:
        self.now()
