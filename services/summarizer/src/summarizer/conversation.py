"""A closed session as the providers see it: masked turns and the gym's language.

The transcript is masked here (redaction.py), once, so no provider can see it unmasked.
`render` writes it for the model within a character budget: a transcript that does not fit keeps
its opening and its end (where requests and goodbyes are), and says how many turns were left out
in between; a single turn longer than a quarter of the budget is cut in its middle.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from jarvis_common.events.catalogue import SessionClosed
from summarizer.analysis import Language
from summarizer.redaction import mask

Speaker = Literal["member", "assistant"]


@dataclass(frozen=True)
class Turn:
    speaker: Speaker
    text: str


@dataclass(frozen=True)
class Conversation:
    session_id: uuid.UUID
    turns: tuple[Turn, ...]
    gym_language: Language

    @property
    def member_spoke(self) -> bool:
        return any(t.speaker == "member" for t in self.turns)


def conversation_of(closed: SessionClosed, default_language: Language) -> Conversation:
    turns = tuple(
        Turn("member" if item.role == "user" else "assistant", mask(item.text.strip()))
        for item in closed.transcript
        # System prompts are ours, not the conversation; a failed transcription has no words.
        if item.role != "system" and not item.transcription_failed and item.text.strip()
    )
    return Conversation(closed.session_id, turns, gym_language(closed.language, default_language))


def gym_language(language: str | None, default: Language) -> Language:
    code = (language or "").strip().lower()[:2]
    return code if code in ("fr", "en") else default  # type: ignore[return-value]


LABELS = {"member": "Member", "assistant": "Assistant"}


def render(conversation: Conversation, budget_chars: int) -> str:
    per_turn = max(200, budget_chars // 4)
    lines = [f"{LABELS[t.speaker]}: {_middle_cut(t.text, per_turn)}" for t in conversation.turns]
    if sum(len(line) + 1 for line in lines) <= budget_chars:
        return "\n".join(lines)
    head_budget = budget_chars // 3
    tail_budget = budget_chars - head_budget - 80
    head: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > head_budget:
            break
        head.append(line)
        used += len(line) + 1
    tail: list[str] = []
    used = 0
    for line in reversed(lines[len(head) :]):
        if used + len(line) + 1 > tail_budget:
            break
        tail.append(line)
        used += len(line) + 1
    tail.reverse()
    omitted = len(lines) - len(head) - len(tail)
    return "\n".join([*head, f"[... {omitted} turns omitted for length ...]", *tail])


def _middle_cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = (limit - 20) // 2
    return f"{text[:keep]} [...] {text[-keep:]}"
