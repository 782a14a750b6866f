"""The price table: longest prefix wins, unknown models are priced high, never free."""

from decimal import Decimal

from jarvis_common.events.catalogue import TokenUsage
from session_gateway.pricing import PRICE_TABLE_VERSION, session_cost

AUDIO_OUT = TokenUsage(audio_output=1_000_000)


def test_a_dated_snapshot_is_priced_as_its_family() -> None:
    mini = session_cost(AUDIO_OUT, "gpt-realtime-mini-2025-10-06", None)
    full = session_cost(AUDIO_OUT, "gpt-realtime-2025-08-28", None)
    assert (mini.usd, full.usd) == (Decimal("20"), Decimal("64"))
    assert mini.price_table_version == full.price_table_version == PRICE_TABLE_VERSION


def test_transcription_is_priced_by_its_own_model() -> None:
    usage = TokenUsage(transcription_input=1_000_000, transcription_output=1_000_000)
    assert session_cost(usage, "gpt-realtime", "gpt-4o-mini-transcribe").usd == Decimal("8")


def test_an_unknown_model_is_priced_as_the_most_expensive_and_says_so() -> None:
    cost = session_cost(AUDIO_OUT, "gpt-9-realtime", None)
    assert cost.usd == Decimal("80") and cost.price_table_version.endswith("+fallback")
    free = session_cost(TokenUsage(), "offline", None)
    assert free.usd == 0 and free.price_table_version == PRICE_TABLE_VERSION
