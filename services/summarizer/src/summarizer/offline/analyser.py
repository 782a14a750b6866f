"""The offline analysis: extractive, lexicon-based, deterministic, in French and English.

- language: French and English function words counted in what the member said;
- topics and tags: keywords (lexicon.py), matched without case or accents;
- churn signals: cancellation, complaint and price phrases, with the sentence that shows each;
- sentiment: positive minus negative words (a negated positive counts as negative), plus the
  churn signals, scaled to [-1, 1];
- summary: the topics, then the member's most telling sentences quoted (those with signals and
  topics first, questions next), in the gym's language; goals and follow-ups from phrases.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from dataclasses import dataclass

from summarizer.analysis import ChurnSignalFound, ConversationAnalysis, Language
from summarizer.conversation import Conversation
from summarizer.offline import lexicon, texts

MODEL = "jarvis-offline-v1"
MAX_QUOTES = 3
MAX_QUOTE_CHARS = 180
TAXONOMY = [*lexicon.TOPICS, "other"]


def _alternation(named: dict[str, list[str]]) -> re.Pattern[str]:
    """One pattern for many lists: each list is a named group, so one scan finds them all."""
    groups = "|".join(rf"(?P<{name}>{'|'.join(words)})" for name, words in named.items())
    # The boundary outside the groups: alternatives are only tried where a word starts.
    return re.compile(rf"(?<!\w)(?=\w)(?:{groups})\b")


_TOPICS = _alternation(lexicon.TOPICS)
_CHURN = _alternation(lexicon.CHURN)
_TAGS = _alternation({f"t{i}": [pattern] for i, (pattern, _) in enumerate(lexicon.TAGS)})
_GOALS = _alternation(dict(lexicon.GOALS))
_SENTIMENT = _alternation({"pos": lexicon.POSITIVE, "neg": lexicon.NEGATIVE})
_SATISFIED = _alternation({"yes": lexicon.SATISFIED, "no": lexicon.UNSATISFIED})
_CALLBACK = _alternation({"callback": lexicon.CALLBACK})
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_WORD = re.compile(r"[\w']+")
_CLAUSE_END = re.compile(r"[,;:!?]")


def normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("`", "'")
    if text.isascii():
        return text
    # Accents go with the decomposition; other non-ASCII characters (€, œ, emoji) are dropped.
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


@dataclass(frozen=True)
class Sentence:
    index: int
    text: str  # as said (masked)
    plain: str  # normalised, for matching
    turn: int


def analyse(conversation: Conversation) -> ConversationAnalysis:
    language = conversation.gym_language
    sentences = _member_sentences(conversation)
    if not sentences:
        return ConversationAnalysis(
            summary=texts.SILENT[language],
            conversation_language=language,
            sentiment_label="neutral",
            sentiment_score=0.0,
            topics=["other"],
            tags=[],
            goals=[],
            follow_ups=[],
            churn_signals=[],
            member_satisfied=None,
        )
    # One scan of everything the member said per word list; a match is placed in its sentence
    # by offset (no pattern crosses the line break between two sentences).
    member_plain = "\n".join(s.plain for s in sentences)
    starts = list(itertools.accumulate((len(s.plain) + 1 for s in sentences[:-1]), initial=0))
    spoken = _spoken_language(member_plain, language)

    signals: list[ChurnSignalFound] = []
    topic_hits: dict[int, int] = {}
    signal_hits: dict[int, int] = {}
    topics: set[str] = set()
    for match in _TOPICS.finditer(member_plain):
        topics.add(match.lastgroup or "other")
        index = bisect.bisect_right(starts, match.start()) - 1
        topic_hits[index] = topic_hits.get(index, 0) + 1
    for match in _CHURN.finditer(member_plain):
        kind = match.lastgroup
        index = bisect.bisect_right(starts, match.start()) - 1
        signal_hits[index] = signal_hits.get(index, 0) + 1
        if kind and all(s.kind != kind for s in signals):
            signals.append(ChurnSignalFound(kind=kind, evidence=sentences[index].text))  # type: ignore[arg-type]
    kinds = [s.kind for s in signals]
    topics |= {
        {"intent_to_cancel": "cancellation", "complaint": "complaint"}.get(k, "pricing")
        for k in kinds
    }

    score = _sentiment(member_plain, starts, kinds)
    satisfied = _satisfaction(sentences, member_plain, kinds)
    ordered_topics = [t for t in TAXONOMY if t in topics] or ["other"]
    follow_ups = _follow_ups(language, kinds, ordered_topics, member_plain, satisfied)
    quotes = _quotes(sentences, topic_hits, signal_hits)
    return ConversationAnalysis(
        summary=texts.summary_sentence(
            language, topics=ordered_topics, quotes=quotes, spoken=spoken, signals=kinds
        ),
        conversation_language=spoken,
        sentiment_label="positive" if score > 0.2 else "negative" if score < -0.2 else "neutral",
        sentiment_score=score,
        topics=ordered_topics,  # type: ignore[arg-type]
        tags=_tags(member_plain),
        goals=[texts.GOALS[language][g] for g in _found(_GOALS, member_plain)],
        follow_ups=follow_ups,
        churn_signals=signals,
        member_satisfied=satisfied,
    )


def _member_sentences(conversation: Conversation) -> list[Sentence]:
    found: list[Sentence] = []
    for turn_index, turn in enumerate(conversation.turns):
        if turn.speaker != "member":
            continue
        for piece in _SENTENCE_END.split(turn.text):
            piece = piece.strip()
            if piece:
                found.append(Sentence(len(found), piece, normalise(piece), turn_index))
    return found


def _spoken_language(plain: str, gym_language: Language) -> Language:
    words = _WORD.findall(plain)
    french = sum(w in lexicon.FRENCH_WORDS for w in words)
    english = sum(w in lexicon.ENGLISH_WORDS for w in words)
    if french == english:
        return gym_language
    return "fr" if french > english else "en"


def _found(pattern: re.Pattern[str], plain: str) -> list[str]:
    return list(dict.fromkeys(m.lastgroup for m in pattern.finditer(plain) if m.lastgroup))


def _tags(plain: str) -> list[str]:
    return list(dict.fromkeys(lexicon.TAGS[int(name[1:])][1] for name in _found(_TAGS, plain)))


def _sentiment(plain: str, starts: list[int], kinds: list[str]) -> float:
    positive = negative = 0
    for match in _SENTIMENT.finditer(plain):
        sentence_start = starts[bisect.bisect_right(starts, match.start()) - 1]
        clause = _CLAUSE_END.split(plain[sentence_start : match.start()])[-1]
        before = _WORD.findall(clause)[-3:]  # a negation reaches three words, not past a comma
        negated = any(w in lexicon.NEGATORS or w.startswith("n'") for w in before)
        if match.lastgroup == "pos":
            if negated:
                negative += 1
            else:
                positive += 1
        elif not negated:  # "pas de problème" is not a complaint
            negative += 1
    negative += sum(k in ("intent_to_cancel", "complaint") for k in kinds)
    return round((positive - negative) / (positive + negative + 1), 2)


def _satisfaction(sentences: list[Sentence], said: str, kinds: list[str]) -> bool | None:
    answers = _found(_SATISFIED, said)
    if "no" in answers or "intent_to_cancel" in kinds or "complaint" in kinds:
        return False
    last_turns = {s.turn for s in sentences[-2:]}
    closing = "\n".join(s.plain for s in sentences if s.turn in last_turns)
    return True if "yes" in _found(_SATISFIED, closing) else None


def _follow_ups(
    language: Language,
    kinds: list[str],
    topics: list[str],
    plain: str,
    satisfied: bool | None,
) -> list[str]:
    reasons = list(kinds)
    if _CALLBACK.search(plain):
        reasons.append("callback")
    if "personal_training" in topics:
        reasons.append("personal_training")
    if satisfied is False and not reasons:
        reasons.append("unsatisfied")
    return [texts.FOLLOW_UPS[language][r] for r in reasons]


def _quotes(
    sentences: list[Sentence], topic_hits: dict[int, int], signal_hits: dict[int, int]
) -> list[str]:
    def weight(s: Sentence) -> tuple[int, int]:
        score = 3 * signal_hits.get(s.index, 0) + 2 * topic_hits.get(s.index, 0)
        score += ("?" in s.text) + (s.index == 0)
        return score, -s.index

    telling = (
        [s for s in sentences if weight(s)[0] > 1]
        or [s for s in sentences if len(s.plain.split()) > 2]
        or sentences
    )
    best = sorted(telling, key=weight, reverse=True)[:MAX_QUOTES]
    chosen = sorted(best, key=lambda s: s.index)
    return [_cut(s.text) for s in chosen]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_QUOTE_CHARS else text[: MAX_QUOTE_CHARS - 1].rstrip() + "…"
