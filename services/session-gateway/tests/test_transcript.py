"""The transcript's order, failure markers and barge-in cuts (pure logic, no I/O)."""

import base64

from session_gateway.transcript import Transcript, audio_ms

MS_100 = base64.b64encode(b"\x00\x00" * 2400).decode()  # 100 ms of PCM16 at 24 kHz


def test_items_follow_the_chain_not_their_arrival() -> None:
    t = Transcript()
    t.add("a1", "u1", "assistant")
    t.add("u2", "a1", "user")
    t.add("u1", None, "user")
    t.add("a2", "u2", "assistant")
    t.add("orphan", "zz", "user")
    assert t.ordered_ids() == ["u1", "a1", "u2", "a2", "orphan"]


def test_a_late_transcript_lands_in_its_place_and_a_missing_one_is_marked() -> None:
    t = Transcript()
    t.add("u1", None, "user")
    t.add("a1", "u1", "assistant")
    t.assistant_done("a1", "Hello!")
    t.add("u2", "a1", "user")
    t.add("a2", "u2", "assistant")
    t.assistant_done("a2", "We open at six.")
    t.user_said("u1", "Hi")  # arrives after the answer
    final = t.final()
    assert [(i.item_id, i.text, i.transcription_failed) for i in final] == [
        ("u1", "Hi", False),
        ("a1", "Hello!", False),
        ("u2", "", True),  # never transcribed: explicit marker
        ("a2", "We open at six.", False),
    ]


def test_barge_in_keeps_only_the_words_that_were_played() -> None:
    t = Transcript()
    t.add("a1", None, "assistant")
    for word in ("We ", "open ", "at ", "six."):
        t.assistant_delta("a1", word)
        t.assistant_audio("a1", MS_100)
    assert audio_ms(MS_100) == 100
    assert t.truncate("a1", 250) == 250
    t.assistant_done("a1", "We open at six.")  # the provider's full text comes after the cut
    assert t.final()[0].text == "We open at "
    assert t.truncate("a1", 10_000) == 400  # never beyond the audio that was sent
    assert t.truncate("unknown", 100) is None
