"""The replay log: consecutive numbers, bounded by count and bytes, replays what was missed."""

import json

from session_gateway.replay_log import ReplayLog


def _seqs(texts) -> list[int]:
    return [json.loads(t)["seq"] for t in texts]


def test_messages_are_numbered_and_replayed_after_the_last_seen() -> None:
    log = ReplayLog(max_messages=100, max_bytes=10_000)
    assert log.first_seq == 1 and list(log.after(0)) == []
    for i in range(5):
        log.append({"type": "text", "n": i})
    log.append_audio("item_1", "AAAA")
    assert (log.first_seq, log.last_seq) == (1, 6)
    assert _seqs(log.after(0)) == [1, 2, 3, 4, 5, 6]
    assert _seqs(log.after(4)) == [5, 6]
    assert list(log.after(6)) == []
    (last,) = log.after(5)
    assert json.loads(last) == {
        "type": "response.audio.delta",
        "item_id": "item_1",
        "audio": "AAAA",
        "seq": 6,
    }


def test_the_oldest_go_first_past_either_bound() -> None:
    by_count = ReplayLog(max_messages=3, max_bytes=10_000)
    for i in range(10):
        by_count.append({"type": "text", "n": i})
    assert (by_count.first_seq, by_count.last_seq) == (8, 10)
    assert _seqs(by_count.after(0)) == [8, 9, 10]  # older ones are no longer held

    by_bytes = ReplayLog(max_messages=1000, max_bytes=2_000)
    for _ in range(10):
        by_bytes.append_audio("item_1", "A" * 400)
    held = list(by_bytes.after(0))
    assert sum(len(t) for t in held) <= 2_000 and len(held) == 4
    assert _seqs(held) == [7, 8, 9, 10] and by_bytes.first_seq == 7


def test_what_the_kiosk_acknowledged_is_forgotten_at_once() -> None:
    # room for about six of these messages (~470 bytes each), not nine
    log = ReplayLog(max_messages=100, max_bytes=3_000)
    for _ in range(5):
        log.append_audio("item_1", "A" * 400)
    log.forget_through(3)
    assert (log.first_seq, log.last_seq) == (4, 5) and _seqs(log.after(0)) == [4, 5]
    log.forget_through(2)  # an older acknowledgement changes nothing
    assert _seqs(log.after(0)) == [4, 5]
    for _ in range(4):
        log.append_audio("item_1", "A" * 400)
    # the bytes bound counts only what is still held: nothing more was dropped for it
    # (counting the forgotten three as well would have dropped 4, 5 and 6)
    assert _seqs(log.after(0)) == [4, 5, 6, 7, 8, 9]
    log.forget_through(9)
    assert list(log.after(0)) == [] and log.first_seq == 10
    log.append({"type": "text"})
    assert _seqs(log.after(9)) == [10]
