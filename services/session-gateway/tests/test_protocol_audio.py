"""The audio hot path's text handling: what it accepts must be exactly what JSON parsing gives,
and what it refuses falls back to the parser (so errors stay the documented ones)."""

import base64
import json
import os

import pytest

from session_gateway.protocol import audio_append_audio, audio_delta_text, encode, is_base64
from session_gateway.realtime_relay import audio_delta

AUDIO = base64.b64encode(os.urandom(4800)).decode()


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (AUDIO, True),
        (base64.b64encode(b"ab").decode(), True),  # one padding character
        (base64.b64encode(b"a").decode(), True),  # two
        ("", True),
        ("AAA", False),  # not a multiple of 4
        ("AA=A", False),  # padding inside
        ("A===", False),  # too much padding
        ("AA\\A", False),
        ('AA"A', False),
        ("AAé=", False),
        ("AA A", False),
        ("-_AA", False),  # the URL-safe alphabet is not the one the protocol uses
    ],
)
def test_is_base64_agrees_with_strict_decoding(value: str, valid: bool) -> None:
    assert is_base64(value) is valid
    if valid:
        base64.b64decode(value, validate=True)


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"type": "audio.append", "audio": AUDIO}),
        json.dumps({"type": "audio.append", "audio": AUDIO}, separators=(",", ":")),
        ' { "type" : "audio.append" ,\n "audio" : "' + AUDIO + '" } \n',
    ],
)
def test_audio_append_recognised_without_parsing_matches_the_parser(raw: str) -> None:
    assert audio_append_audio(raw) == json.loads(raw)["audio"]


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"audio": AUDIO, "type": "audio.append"}),  # another order: parsed instead
        json.dumps({"type": "audio.append", "audio": AUDIO, "extra": "x"}),
        json.dumps({"type": "audio.append", "audio": 'AB"CD'}),
        json.dumps({"type": "audio.append", "audio": "not base64!"}),
        '{"type": "audio.append", "audio": "AAAA"',  # truncated
        json.dumps({"type": "text", "text": "audio.append"}),
    ],
)
def test_anything_else_is_left_to_the_parser(raw: str) -> None:
    assert audio_append_audio(raw) is None


def test_an_audio_delta_written_directly_parses_as_the_message() -> None:
    text = audio_delta_text('item "1"', AUDIO, 42)
    assert json.loads(text) == {
        "type": "response.audio.delta",
        "item_id": 'item "1"',
        "audio": AUDIO,
        "seq": 42,
    }


def test_encoded_messages_parse_back_to_the_same_message() -> None:
    for message in (
        {"type": "response.audio.delta", "item_id": "item_1", "audio": AUDIO, "seq": 7},
        {"type": "response.text.delta", "item_id": 'é"\\', "delta": "Bonjour « Zoé »", "seq": 8},
        {"type": "error", "code": "x", "audio": 'not base64 "quoted"'},
        {"audio": AUDIO},
    ):
        assert json.loads(encode(dict(message))) == message


def _delta_event(**extra: object) -> dict:
    return {
        "type": "response.output_audio.delta",
        "event_id": "event_1",
        "response_id": "resp_1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": AUDIO,
        **extra,
    }


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(_delta_event()),
        json.dumps(_delta_event(), separators=(",", ":")),
        # another order of the fields after the type
        json.dumps({"type": "response.output_audio.delta", "delta": AUDIO, "item_id": "item_9"}),
        # event_id first, as the API's reference writes its events
        json.dumps({"event_id": "event_7", **_delta_event()}),
        json.dumps({"event_id": "event_7", **_delta_event()}, separators=(",", ":")),
    ],
)
def test_an_upstream_audio_delta_read_from_its_text_matches_the_parser(raw: str) -> None:
    event = json.loads(raw)
    assert audio_delta(raw.encode()) == (event["item_id"], event["delta"])


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(_delta_event()).replace("/", "\\/"),  # an escaped slash: parsed instead
        json.dumps({"item_id": "item_1", "type": "response.output_audio.delta", "delta": AUDIO}),
        # an item id before the type: the first "item_id" might not be the event's own
        json.dumps({"event_id": "e", "item_id": "i", **_delta_event()}),
        json.dumps(
            {"type": "response.output_audio_transcript.delta", "item_id": "i", "delta": "x"}
        ),
        json.dumps({"type": "response.output_audio.delta", "item_id": "item_1"}),  # no delta
        json.dumps(
            {"type": "response.output_audio.delta", "delta": "é", "item_id": "i"},
            ensure_ascii=False,
        ),
    ],
)
def test_any_other_upstream_event_is_left_to_the_parser(raw: str) -> None:
    assert audio_delta(raw.encode()) is None


def test_a_message_with_a_lone_surrogate_is_still_utf_8() -> None:
    """Upstream text may carry an escaped lone surrogate, which UTF-8 cannot hold: it goes to
    the kiosk escaped, not as a frame that cannot be sent."""
    message = {"type": "response.text.delta", "item_id": "a1", "delta": "caf\u00e9 \ud83d"}
    text = encode(message)
    text.encode()  # does not raise
    assert json.loads(text) == message
    assert encode({"delta": "café"}) == '{"delta":"café"}'  # the usual case stays readable
