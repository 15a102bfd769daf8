"""The fast frame builder (pacing.stream_frames with byte templates) sends exactly what encode_event would."""

import hashlib
import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockclaude.synth.content import ContentSettings, OutputLength, TokenSource, plan_response
from mockclaude.synth.pacing import Frame, Frames, Range, Timing, delta_template, stream_frames
from mockclaude.wire import messages as wm
from mockclaude.wire.sse import PING, encode_event

TOOL = {
    "name": "get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["city"],
    },
}
# name: (extra request fields, --chunk-tokens, fault)
CASES: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "text": ({}, "2", None),
    "text-chunk-1-3": ({}, "1-3", None),
    "thinking": ({"thinking": {"type": "enabled", "budget_tokens": 400}}, "1-3", None),
    "tools": ({"tools": [TOOL], "tool_choice": {"type": "any"}}, "1-3", None),
    "midstream": ({}, "1-3", "midstream"),
    "disconnect": ({"thinking": {"type": "enabled", "budget_tokens": 200}}, "2", "disconnect"),
    "stop-seq": ({"stop_sequences": ["the", "a"]}, "1-2", None),
    "omitted-cut": ({"thinking": {"type": "enabled", "budget_tokens": 300, "display": "omitted"}}, "1-3", "midstream"),
    "unicode": ({"system": "x"}, "1", None),
}
# sha256 (first 32 hex digits) of 20 seeded answers per case, as the dict-per-event builder made
# them before the templates (commit a4b8b30): every frame's time, bytes, token count and delta flag,
# and where the rng was left. "tools" was redrawn when wire.ids drew each id's characters from one
# randbytes call (the tool ids differ; with the old id draw the digest is still the a4b8b30 one).
GOLDEN = {
    "text": "d5d0215723c417f7f8ba726d50411ba6",
    "text-chunk-1-3": "718bdb4d2f5a88653dbf26e7725e794e",
    "thinking": "f501c5cf1477bc3381dac76d605fa122",
    "tools": "d3fe12ad89ddc70a09c86e66fa0632da",
    "midstream": "1cccdf731df184c5df4ba8e3d29627e2",
    "disconnect": "2f26a7ffd1ad6c7d243b9b58bef1a09c",
    "stop-seq": "3f964dd5a47130588e0142bd72297f13",
    "omitted-cut": "ed4ce1dc3b8561418968e5acd398c57b",
    "unicode": "3da38ee28e7cc79b54a2e362aafecf17",
}


@pytest.fixture(scope="module")
def source() -> TokenSource:
    """The corpus the golden digests were made from."""
    return TokenSource(7)


def answers(source: TokenSource, case: str) -> list[tuple[Frames, random.Random]]:
    """20 seeded answers of one case, with the rng each left behind."""
    extra, chunk, fault = CASES[case]
    out = []
    for seed in range(20):
        rng = random.Random(seed)
        body = {"model": "m", "max_tokens": 900, "stream": True, "messages": [{"role": "user", "content": "x"}]}
        content = ContentSettings(output_length=OutputLength.parse("1-300"))
        plan = plan_response({**body, **extra}, 900, content, source, rng)
        timing = Timing(0.25 + seed / 7, 33.3 + seed, Range.parse(chunk, name="c"))
        frames = stream_frames(
            plan, msg_id=f"msg_{seed}", model="m", input_tokens=seed, timing=timing, rng=rng,
            fault=fault, fault_after=seed * 3, request_id="req_x",
        )  # fmt: skip
        out.append((frames, rng))
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_frames_are_the_ones_the_old_builder_made(source: TokenSource, case: str) -> None:
    h = hashlib.sha256()
    for frames, rng in answers(source, case):
        for f in frames:
            h.update(repr((f.t, f.data, f.tokens_out, f.delta)).encode())
        h.update(repr(rng.random()).encode())
    assert h.hexdigest()[:32] == GOLDEN[case]


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_event_is_what_encode_event_writes_for_it(source: TokenSource, case: str) -> None:
    for frames, _ in answers(source, case):
        for data in frames.data:
            if data is None:
                continue
            for event in data.replace(PING, b"").split(b"\n\n")[:-1]:
                name, payload = event.split(b"\n")
                decoded = orjson.loads(payload.removeprefix(b"data: "))
                assert name == b"event: " + decoded["type"].encode()
                assert encode_event(decoded) == event + b"\n\n"


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
    | st.sampled_from(['"', "\\", "\n\r\t", "\x00\x1f\x7f", "\u2028\u2029", "é😀", "</script>", "\ud7ff\ue000"]),
    index=st.integers(0, 300),
    kind=st.sampled_from(["text_delta", "thinking_delta", "input_json_delta"]),
)
def test_delta_template_matches_encode_event(text: str, index: int, kind: str) -> None:
    field = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}[kind]
    prefix, suffix = delta_template(index, kind)
    assert prefix + orjson.dumps(text) + suffix == encode_event(wm.block_delta(index, {"type": kind, field: text}))


def test_frames_views_shift_and_cut() -> None:
    frames = Frames()
    frames.add(0.1, b"a")
    frames.add(0.3, b"b", 2, delta=True)
    assert len(frames) == 2 and frames[1] == Frame(0.3, b"b", True, 2)
    assert list(frames) == [Frame(0.1, b"a", False, 0), Frame(0.3, b"b", True, 2)]
    assert frames.first_delta_t(9.0) == 0.3 and Frames().first_delta_t(9.0) == 9.0
    moved = frames.shifted(0.2)
    assert moved.t == [0.0, pytest.approx(0.1)] and frames.t == [0.1, 0.3]
    frames.cut("disconnect", None)
    assert frames[-1] == Frame(0.3, None, False, 2)
    frames.cut("midstream", "req_1")
    assert frames[-1].data == encode_event(wm.stream_error("overloaded_error", "Overloaded", "req_1"))


def lazily(frames: Frames) -> tuple[Frames, int]:
    """Frames built lazily, with every chunk of `rest` appended; and how many chunks there were."""
    out, chunks = Frames(), 0
    for chunk in [frames, *(frames.rest or ())]:
        out.t += chunk.t
        out.data += chunk.data
        out.tokens += chunk.tokens
        out.delta += chunk.delta
        chunks += 1
    return out, chunks


@pytest.mark.parametrize("case", sorted(CASES))
def test_lazy_frames_are_the_eager_ones(source: TokenSource, case: str) -> None:
    extra, chunk, fault = CASES[case]
    for seed in range(20):
        built = []
        for lazy in (False, True):
            rng = random.Random(seed)
            body = {"model": "m", "max_tokens": 900, "stream": True, "messages": [{"role": "user", "content": "x"}]}
            plan = plan_response({**body, **extra}, 900, ContentSettings(OutputLength.parse("1-300")), source, rng)
            timing = Timing(0.3, 40.0, Range.parse(chunk, name="c"))
            frames = stream_frames(
                plan, msg_id="msg_1", model="m", input_tokens=seed, timing=timing, rng=rng,
                fault=fault, fault_after=seed * 3, request_id="req_x", lazy=lazy,
            )  # fmt: skip
            # Everything rng draws is drawn before any frame is sent: the bytes do not depend on when
            # the scheduler builds the rest.
            left = rng.random()
            if lazy:
                first = list(frames)
                frames, chunks = lazily(frames)
                assert True in [f.delta for f in first] or True not in frames.delta  # the head is in the first chunk
                assert chunks > 2 or len(frames) < 40, (chunks, len(frames))
            built.append((list(frames), left))
        assert built[0] == built[1]
