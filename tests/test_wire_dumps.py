"""wire.messages.dumps (orjson) writes what json.dumps(separators=(",", ":"), ensure_ascii=False) wrote."""

import json
import random

from mockclaude.synth.content import ContentSettings, OutputLength, TokenSource, plan_response
from mockclaude.wire import messages as wm
from mockclaude.wire.messages import dumps


def old(obj: object) -> bytes:
    """The encoder dumps replaced."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def test_synthetic_messages_are_byte_identical() -> None:
    source = TokenSource(3)
    tool = {"name": "t", "input_schema": {"type": "object", "properties": {"n": {"type": "number"}}}}
    for seed in range(50):
        rng = random.Random(seed)
        body = {"model": "m", "max_tokens": 300, "messages": [{"role": "user", "content": "x"}]}
        if seed % 2:
            body |= {"tools": [tool], "tool_choice": {"type": "any"}}
        plan = plan_response(body, 300, ContentSettings(output_length=OutputLength.parse("1-300")), source, rng)
        msg = wm.message(
            msg_id="msg_011Cx", model="m", content=[b.api_block() for b in plan.blocks], stop_reason=plan.stop_reason,
            stop_sequence=plan.stop_sequence, input_tokens=seed, output_tokens=plan.output_tokens,
        )  # fmt: skip
        assert dumps(msg) == old(msg)


def test_unicode_controls_and_odd_keys() -> None:
    obj = {"t": 'é \u2028 \x7f \x1f " \\ 🙂', "n": [0.1, 3.0, -0.0, 1e16, 2**63 - 1, True, None], "k": {1: "x"}}
    assert dumps(obj) == old(obj)


def test_integers_beyond_64_bits_are_still_written() -> None:
    obj = {"input": {"big": 2**70, "neg": -(2**65)}}
    assert dumps(obj) == old(obj) and json.loads(dumps(obj)) == obj
