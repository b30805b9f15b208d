"""The operator: a person (or a script standing in for one) who plays a party no TAPI line can play.

Two questions are all the suite ever needs to put to a person, and both are bounded in time:

* ``confirm(text, timeout)``: "answer the mobile now", "is the target ringing?" - True when the person
  confirmed within ``timeout`` seconds;
* ``ask(question, timeout)``: "what number does the mobile show?" - the typed answer, or None when
  nobody answered in time.

``TerminalOperator`` asks on the terminal the run was started from (opened directly, since pytest
captures stdin and stderr); without one (CI, a service) nobody can answer and every question returns
False / None at once, which the suite reports as inconclusive - never as a fail.

``ScriptedOperator`` reads the answers from a YAML file, so the operator fallback is tested in CI and a
lab can replay a session::

    answers:
      - prompt: "remote_office .* alerting"     # regular expression, searched in the prompt text
        answer: true                              # confirm
      - prompt: "what number does remote_office show"
        answer: "+49891234201"                    # typed answer; "" = no number shown, "?" = cannot tell

Each entry answers one prompt (the first unused entry whose pattern matches, in file order); an entry
with ``repeat: true`` answers every matching prompt. A prompt no entry matches is not answered (False /
None). Every prompt and its answer go to ``transcript``. The file is named by ``--answers FILE`` or the
environment variable ``RO_CONFORMANCE_ANSWERS``.

Which one a backend gets: ``default_operator`` (the answers file, else the terminal when ``ro-conformance
run``/``check`` was started from one, else nobody).
"""

from __future__ import annotations

import os
import re
import select
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import yaml

from simulator._errors import TapiError

__all__ = ["ANSWERS_ENV", "OPERATOR_ENV", "NoOperator", "Operator", "ScriptedOperator", "TerminalOperator",
           "default_operator", "use_terminal_if_interactive"]

ANSWERS_ENV: Final = "RO_CONFORMANCE_ANSWERS"
OPERATOR_ENV: Final = "RO_CONFORMANCE_OPERATOR"     # "terminal": prompt on the terminal


class Operator(Protocol):
    transcript: list[str]

    def confirm(self, text: str, timeout: float) -> bool: ...
    def ask(self, question: str, timeout: float) -> str | None: ...
    def available(self) -> bool: ...


class TerminalOperator:
    """Prompts on the terminal; every wait ends after its timeout (see the module docstring).

    The terminal is opened directly (``/dev/tty``; the Windows console through ``CONOUT$`` and
    ``msvcrt``), not through stdin/stderr: a suite run is a pytest run, and pytest captures both.
    ``device`` names another terminal (tests use a pseudo-terminal).
    """

    def __init__(self, device: str | None = None) -> None:
        self.transcript: list[str] = []
        self._device = device
        self._fd = -1                        # POSIX: the terminal, read and written directly
        self._console: Any = None            # Windows: CONOUT$ for the prompt (input via msvcrt)
        self._tried = False

    def available(self) -> bool:
        if not self._tried:
            self._tried = True
            try:
                if sys.platform == "win32" and self._device is None:
                    self._console = open("CONOUT$", "w", encoding="utf-8")  # noqa: SIM115 - kept open
                else:
                    self._fd = os.open(self._device or "/dev/tty", os.O_RDWR | getattr(os, "O_NOCTTY", 0))
            except OSError:
                pass                         # no terminal: a service, CI, a detached process
        return self._fd >= 0 or self._console is not None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._console is not None:
            self._console.close()
            self._console = None

    def _line(self, prompt: str, timeout: float) -> str | None:
        self.transcript.append(f"? {prompt}")
        if not self.available():
            self.transcript.append("  (no terminal: not answered)")
            return None
        text = f"\n[operator] {prompt} ({timeout:.0f} s)\n"
        if self._console is not None:
            self._console.write(text)
            self._console.flush()
            answer = _read_console(timeout)
        else:
            os.write(self._fd, text.encode("utf-8"))
            answer = _read_tty(self._fd, timeout)
        self.transcript.append(f"  {answer!r}" if answer is not None else "  (timed out)")
        return answer

    def confirm(self, text: str, timeout: float) -> bool:
        return self._line(f"{text} - press Enter when done", timeout) is not None

    def ask(self, question: str, timeout: float) -> str | None:
        answer = self._line(f"{question} (Enter = none shown, ? = cannot tell)", timeout)
        return None if answer is None else answer.strip()


def _read_tty(fd: int, timeout: float) -> str | None:
    """One line typed on a POSIX terminal within ``timeout`` seconds (canonical mode: one read), or None."""
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    if not ready:
        return None
    lines = os.read(fd, 4096).decode("utf-8", errors="replace").splitlines()
    return lines[0] if lines else ""


def _read_console(timeout: float) -> str | None:
    """One line typed at the Windows console within ``timeout`` seconds, or None."""
    if sys.platform != "win32":
        return None
    import msvcrt

    typed: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        while msvcrt.kbhit():
            ch = msvcrt.getwche()
            if ch in "\r\n":
                return "".join(typed)
            typed.append(ch)
        time.sleep(0.05)
    return None


@dataclass
class _Entry:
    pattern: re.Pattern[str]
    answer: Any
    repeat: bool = False
    used: bool = False


@dataclass
class ScriptedOperator:
    """Answers from a file instead of a person (see the module docstring)."""

    entries: list[_Entry]
    source: str = ""
    transcript: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ScriptedOperator:
        """Read an answers file. Raises ``TapiError`` naming the file and entry when it is malformed."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise TapiError(f"operator answers {path}: {exc}") from exc
        items = data.get("answers") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise TapiError(f"operator answers {path}: needs a list under 'answers'")
        entries = []
        for index, item in enumerate(items):
            if not isinstance(item, dict) or "prompt" not in item or "answer" not in item:
                raise TapiError(f"operator answers {path}: answers[{index}] needs 'prompt' and 'answer'")
            try:
                pattern = re.compile(str(item["prompt"]), re.IGNORECASE)
            except re.error as exc:
                raise TapiError(f"operator answers {path}: answers[{index}].prompt: {exc}") from exc
            entries.append(_Entry(pattern, item["answer"], bool(item.get("repeat", False))))
        return cls(entries, str(path))

    def available(self) -> bool:
        return True

    def _answer(self, prompt: str) -> Any:
        self.transcript.append(f"? {prompt}")
        for entry in self.entries:
            if (entry.repeat or not entry.used) and entry.pattern.search(prompt):
                entry.used = True
                self.transcript.append(f"  {entry.answer!r}")
                return entry.answer
        self.transcript.append("  (no scripted answer)")
        return None

    def confirm(self, text: str, timeout: float) -> bool:
        return self._answer(text) is True

    def ask(self, question: str, timeout: float) -> str | None:
        answer = self._answer(question)
        return None if answer is None or isinstance(answer, bool) else str(answer).strip()


class NoOperator:
    """Nobody: every question goes unanswered at once (the default when nobody asked for a person)."""

    def __init__(self) -> None:
        self.transcript: list[str] = []

    def available(self) -> bool:
        return False

    def confirm(self, text: str, timeout: float) -> bool:
        self.transcript.extend((f"? {text}", "  (no operator: not answered)"))
        return False

    def ask(self, question: str, timeout: float) -> str | None:
        self.confirm(question, timeout)
        return None


def default_operator() -> Operator:
    """Who plays the roles no line can play, from the environment.

    ``$RO_CONFORMANCE_ANSWERS=FILE``: a ``ScriptedOperator``; else ``$RO_CONFORMANCE_OPERATOR=terminal``
    (set by ``ro-conformance run`` / ``check`` when started from a terminal): a ``TerminalOperator``; else
    nobody (``NoOperator``), so a test run of the project itself never waits for a person.
    """
    path = os.environ.get(ANSWERS_ENV, "")
    if path:
        return ScriptedOperator.load(path)
    if os.environ.get(OPERATOR_ENV, "") == "terminal":
        return TerminalOperator()
    return NoOperator()


def use_terminal_if_interactive() -> None:
    """Ask for the terminal operator when this process was started from a terminal (before pytest
    captures stdin) and no answers file was given; an explicit ``$RO_CONFORMANCE_OPERATOR`` wins."""
    if os.environ.get(ANSWERS_ENV) or OPERATOR_ENV in os.environ:
        return
    if sys.stdin is not None and sys.stdin.isatty():
        os.environ[OPERATOR_ENV] = "terminal"
