"""A production-shaped Messages request: what an agent sends on its eleventh turn.

A 7,500-character system prompt, four tool definitions, a history of 20 messages (five rounds of a
question, a tool call, its result and an answer) and a new user turn: 13.5 KB of JSON, where the
benchmarks' one-line prompt is 90 bytes. `tool_choice` is `none`, so every answer is text, as a
peer that answers every request with the same text gives (the comparison stays on the same answer).
"""

from typing import Any

from bench.harness import MODEL

_POLICY = "You are a careful support agent for ACME. Follow the policy below exactly and cite the order id. "


def _tool(i: int) -> dict[str, Any]:
    return {
        "name": f"orders_{i}",
        "description": "Looks an order up in the order database and returns its state and tracking. " * 3,
        "input_schema": {
            "type": "object",
            "properties": {
                "order_id": {"type": "string", "description": "the order's id, e.g. A1234"},
                "verbose": {"type": "boolean"},
                "fields": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["order_id"],
        },
    }


def _history() -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for t in range(5):
        call = f"toolu_01{t:022d}"
        messages += [
            {"role": "user", "content": f"Where is my order A{t}? It should have arrived last week and I need it."},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look that order up for you."},
                    {"type": "tool_use", "id": call, "name": "orders_0", "input": {"order_id": f"A{t}"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call,
                        "content": "Shipped 2026-11-28 by ground, tracking 1Z999AA10123456784, due 2026-12-03. " * 3,
                    }
                ],
            },
            {"role": "assistant", "content": f"Order A{t} shipped on November 28 and is due on December 3. " * 2},
        ]
    return messages


def agent_body(max_tokens: int, prompt: str) -> dict[str, Any]:
    """The agent's request, its last user turn `prompt` (a string, so bench.json_load can make it distinct)."""
    return {
        "model": MODEL,
        "max_tokens": max_tokens,
        "system": _POLICY * 75,
        "tools": [_tool(i) for i in range(4)],
        "tool_choice": {"type": "none"},
        "messages": [*_history(), {"role": "user", "content": prompt}],
    }
