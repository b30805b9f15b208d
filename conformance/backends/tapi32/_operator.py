"""The operator: a person (or a script standing in for one) who plays a party no TAPI line can play.

Two questions are all the suite ever needs to put to a person, and both are bounded in time:

* ``confirm(text, timeout)``: "answer the mobile now", "is the target ringing?" - True when the person
  confirmed within ``timeout`` seconds;
* ``ask(question, timeout)``: "what number does the mobile show?" - the typed answer, or None when
  nobody answered in time.

``TerminalOperator`` asks on the console (stderr for the prompt, stdin for the answer); without an
interactive stdin (CI, pytest capturing, a service) nobody can answer and every question returns
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

__all__ = ["ANSWERS_ENV", "Operator", "ScriptedOperator", "TerminalOperator", "default_operator"]

ANSWERS_ENV: Final = "RO_CONFORMANCE_ANSWERS"


class Operator(Protocol):
    transcript: list[str]

    def confirm(self, text: str, timeout: float) -> bool: ...
    def ask(self, question: str, timeout: float) -> str | None: ...
    def available(self) -> bool: ...


class TerminalOperator:
    """Prompts on the console; every wait ends after its timeout (see the module docstring)."""

    def __init__(self) -> None:
        self.transcript: list[str] = []

    def available(self) -> bool:
        return sys.stdin is not None and sys.stdin.isatty()

    def _line(self, prompt: str, timeout: float) -> str | None:
        self.transcript.append(f"? {prompt}")
        if not self.available():
            self.transcript.append("  (no terminal: not answered)")
            return None
        print(f"\n[operator] {prompt} ({timeout:.0f} s)", file=sys.stderr, flush=True)
        answer = _read_line(timeout)
        self.transcript.append(f"  {answer!r}" if answer is not None else "  (timed out)")
        return answer

    def confirm(self, text: str, timeout: float) -> bool:
        return self._line(f"{text} - press Enter when done", timeout) is not None

    def ask(self, question: str, timeout: float) -> str | None:
        answer = self._line(f"{question} (Enter = none shown, ? = cannot tell)", timeout)
        return None if answer is None else answer.strip()


def _read_line(timeout: float) -> str | None:
    if sys.platform == "win32":
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
    ready, _, _ = select.select([sys.stdin], [], [], max(0.0, timeout))
    return sys.stdin.readline().rstrip("\n") if ready else None


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


def default_operator() -> Operator:
    """``ScriptedOperator`` from ``$RO_CONFORMANCE_ANSWERS`` when set, else the terminal."""
    path = os.environ.get(ANSWERS_ENV, "")
    return ScriptedOperator.load(path) if path else TerminalOperator()
