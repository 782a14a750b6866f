"""The offline provider: without OPENAI_API_KEY, a text assistant that answers members from the
gym's own information (KioskConfig.gym_name / gym_info), in the gym's language (fr or en).

Deterministic keyword matching: a question is matched to topics (opening hours, prices, classes,
contact, address); the answer quotes what gym_info holds for them. When it has nothing to quote,
it says so plainly instead of guessing.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from jarvis_common.events.catalogue import KioskConfig, TokenUsage
from session_gateway.providers import (
    AssistantTextDelta,
    AssistantTextDone,
    History,
    ItemAdded,
    MemberContext,
    ProviderEvent,
    UsageReport,
    UserTranscript,
)

# topic -> (keywords, without accents, lower case; gym_info keys that answer it)
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hours": (
        (
            "horaire",
            "heure",
            "ouvert",
            "ouverture",
            "ferme",
            "fermeture",
            "hours",
            "open",
            "close",
            "closing",
            "when",
        ),
        ("opening_hours", "hours", "horaires"),
    ),
    "prices": (
        (
            "prix",
            "tarif",
            "abonnement",
            "cout",
            "combien",
            "coute",
            "price",
            "cost",
            "membership",
            "much",
            "fee",
            "fees",
        ),
        ("prices", "pricing", "tarifs", "prix", "memberships"),
    ),
    "classes": (
        (
            "cours",
            "classe",
            "planning",
            "yoga",
            "pilates",
            "zumba",
            "class",
            "classes",
            "schedule",
            "lesson",
        ),
        ("classes", "cours", "schedule", "planning"),
    ),
    "contact": (
        ("contact", "telephone", "email", "mail", "joindre", "appeler", "phone", "call", "reach"),
        ("contact", "contacts", "phone", "email", "telephone"),
    ),
    "address": (
        ("adresse", "trouve", "address", "where", "located", "location"),
        ("address", "adresse"),
    ),
}
GREETINGS = ("bonjour", "salut", "bonsoir", "hello", "hi", "hey", "coucou")

LABELS = {
    "fr": {
        "hours": "Horaires",
        "prices": "Tarifs",
        "classes": "Cours",
        "contact": "Contact",
        "address": "Adresse",
    },
    "en": {
        "hours": "Opening hours",
        "prices": "Prices",
        "classes": "Classes",
        "contact": "Contact",
        "address": "Address",
    },
}
TEXTS = {
    "fr": {
        "greeting": "Bonjour et bienvenue à {gym} ! Je peux vous renseigner sur les horaires, "
        "les tarifs, les cours et les contacts de la salle.",
        "unknown": "Je ne peux pas répondre à cette question : je ne connais que les "
        "informations de {gym} ({topics}). Pour le reste, adressez-vous à l'accueil.",
        "missing": "Je n'ai pas cette information ({label}) pour {gym}. Adressez-vous à l'accueil.",
        "wrap_up": "Notre temps d'échange est écoulé. Merci et bonne séance à {gym} !",
        "the_gym": "la salle",
    },
    "en": {
        "greeting": "Hello and welcome to {gym}! I can tell you about the gym's opening hours, "
        "prices, classes and contacts.",
        "unknown": "I can't answer that: I only know {gym}'s own information ({topics}). "
        "Please ask the front desk for anything else.",
        "missing": "I don't have that information ({label}) for {gym}. Please ask the front desk.",
        "wrap_up": "Our time is up. Thank you, and enjoy your workout at {gym}!",
        "the_gym": "the gym",
    },
}


def _lang(config: KioskConfig) -> str:
    return "en" if config.language.lower().startswith("en") else "fr"


def _words(text: str) -> set[str]:
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    words = set(re.findall(r"[a-z0-9]+", plain))
    # plurals: "horaires" asks what "horaire" asks
    return words | {w[:-1] for w in words if len(w) > 3 and w[-1] in "sx"}


def _render(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_render(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(_render(v) for v in value)
    return str(value)


def _info(config: KioskConfig, keys: tuple[str, ...]) -> Any:
    info = {str(k).lower(): v for k, v in config.gym_info.items()}
    for key in keys:
        if info.get(key) not in (None, "", [], {}):
            return info[key]
    return None


def wrap_up(config: KioskConfig) -> str:
    texts = TEXTS[_lang(config)]
    return texts["wrap_up"].format(gym=config.gym_name or texts["the_gym"])


def answer(config: KioskConfig, question: str) -> str:
    """The assistant's reply to one question: deterministic, from the gym's information only."""
    lang = _lang(config)
    texts, labels = TEXTS[lang], LABELS[lang]
    gym = config.gym_name or texts["the_gym"]
    words = _words(question)
    topics = [t for t, (keywords, _) in TOPICS.items() if words & set(keywords)]
    if not topics:
        if words & set(GREETINGS):
            return texts["greeting"].format(gym=gym)
        known = [labels[t].lower() for t, (_, keys) in TOPICS.items() if _info(config, keys)]
        return texts["unknown"].format(gym=gym, topics=", ".join(known) or "-")
    parts = []
    for topic in topics:
        value = _info(config, TOPICS[topic][1])
        if value is None:
            parts.append(texts["missing"].format(label=labels[topic].lower(), gym=gym))
        else:
            parts.append(
                f"{labels[topic]} — {gym} : {_render(value)}"
                if lang == "fr"
                else f"{labels[topic]} at {gym}: {_render(value)}"
            )
    return "\n".join(parts)


def _chunks(text: str, size: int = 24) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class OfflineAssistant:
    """ConversationProvider without any network: answers are computed locally, zero tokens."""

    name = "offline"
    transcription_model = None
    accepts_audio = False

    def __init__(self) -> None:
        self._config = KioskConfig()
        self._queue: asyncio.Queue[ProviderEvent | None] = asyncio.Queue()
        self._turns = 0
        self._last: str | None = None

    async def start(self, config: KioskConfig, member: MemberContext, history: History) -> None:
        self._config = config

    def _say(self, text: str) -> None:
        self._turns += 1
        item_id = f"a{self._turns}"
        self._queue.put_nowait(
            ItemAdded(item_id=item_id, previous_item_id=self._last, role="assistant")
        )
        self._last = item_id
        for chunk in _chunks(text):
            self._queue.put_nowait(AssistantTextDelta(item_id=item_id, delta=chunk))
        self._queue.put_nowait(AssistantTextDone(item_id=item_id, text=text))

    async def send_user_text(self, text: str) -> None:
        item_id = f"u{self._turns + 1}"
        self._queue.put_nowait(ItemAdded(item_id=item_id, previous_item_id=self._last, role="user"))
        self._last = item_id
        self._queue.put_nowait(UserTranscript(item_id=item_id, text=text))
        self._say(answer(self._config, text))
        self._queue.put_nowait(UsageReport(usage=TokenUsage()))

    async def append_audio(self, audio: str) -> None:
        raise NotImplementedError("the offline assistant reads text only")

    def append_audio_now(self, audio: str) -> bool:
        return False

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        return None  # it never speaks

    async def wrap_up(self, instructions: str) -> None:
        self._say(wrap_up(self._config))

    async def run(
        self,
        deliver: Callable[[ProviderEvent], Awaitable[None]],
        deliver_now: Callable[[ProviderEvent], bool] | None = None,
    ) -> None:
        while (event := await self._queue.get()) is not None:
            await deliver(event)

    async def close(self, grace_s: float) -> None:
        self._queue.put_nowait(None)
