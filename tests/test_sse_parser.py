"""SSEParser against a plain line-by-line reading of the whole stream, for any way the bytes are cut."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mockclaude.wire.sse import PING, SSEParser, encode_event


def reference(stream: bytes) -> list[tuple[str | None, str]]:
    """The SSE rules read off the complete text: lines, fields, a blank line ends an event."""
    text = stream.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    events, name, data = [], None, []
    lines = text.split("\n")
    for line in lines[:-1]:  # the last piece has no line end yet
        if line == "":
            if name is not None or data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    return events


def parse_in_pieces(stream: bytes, cuts: list[int]) -> list[tuple[str | None, str]]:
    """Feed `stream` cut at the given offsets."""
    parser, out, last = SSEParser(), [], 0
    for cut in [*sorted(cuts), len(stream)]:
        out += parser.feed(stream[last:cut])
        last = cut
    return out


_line = st.one_of(
    st.sampled_from(["event: message_start", "event:ping", "data: {\"a\": \"é中😀\"}", "data:x", "data", "event",
                     ": keep-alive", "", "id: 7", "retry: 10", "data:  two spaces", "event: a:b", "data: é"]),
    st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=12),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(_line, max_size=30),
    ends=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1, max_size=30),
    seed=st.integers(0, 2**32),
)
def test_any_lines_any_line_ends_any_cuts(lines: list[str], ends: list[str], seed: int) -> None:
    stream = "".join(line + ends[i % len(ends)] for i, line in enumerate(lines)).encode()
    if stream.endswith(b"\r"):
        stream += b"\n"  # a final lone \r may be half of \r\n: the parser rightly waits for the next byte
    rng = random.Random(seed)
    cuts = rng.sample(range(len(stream) + 1), min(len(stream) + 1, rng.randint(0, 12)))
    assert parse_in_pieces(stream, cuts) == reference(stream)


def test_api_frames_byte_by_byte_including_inside_utf8() -> None:
    frames = [encode_event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}})
              for t in ("é", "中文", "😀", "plain")]  # fmt: skip
    stream = PING + b"".join(frames) + b": comment\n\n"
    got = parse_in_pieces(stream, list(range(1, len(stream))))
    assert got == reference(stream) and len(got) == 5 and got[0] == ("ping", '{"type": "ping"}')
    assert [name for name, _ in got] == ["ping"] + ["content_block_delta"] * 4
    assert '"😀"' in got[3][1]


def test_bytes_variant_keeps_the_data_undecoded_and_waits_for_the_blank_line() -> None:
    parser = SSEParser()
    assert parser.feed_bytes(b"event: x\ndata: {\"t\": \"\xc3") == []
    assert parser.feed_bytes(b"\xa9\"}\n") == []
    assert parser.feed_bytes(b"\nevent: y\r\ndata: 1\r") == [("x", b'{"t": "\xc3\xa9"}')]
    assert parser.feed_bytes(b"\n\r\n") == [("y", b"1")]


def test_long_event_in_small_chunks_stays_linear() -> None:
    stream = b"event: big\ndata: " + b"a" * 2_000_000 + b"\n\n"
    parser = SSEParser()
    out = []
    for i in range(0, len(stream), 1000):
        out += parser.feed_bytes(stream[i : i + 1000])
    assert out == [("big", b"a" * 2_000_000)]
