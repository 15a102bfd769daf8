"""A client verdict (the JSON of `GET /_mockclaude/verdict`) as a table for people."""

from typing import Any


def format_verdict(v: dict[str, Any]) -> str:
    """One block per client: its findings (kind, count, first example, fix) and its clean behaviours."""
    if not v.get("clients"):
        return "no client has sent a Messages request yet"
    lines: list[str] = []
    for c in v["clients"]:
        head = f"client {c['client']}: {c['requests']} requests, {c['retries']} retries: {c['verdict'].upper()}"
        lines.append(head)
        for f in c["findings"]:
            lines.append(f"  {f['severity']:<7}  {f['kind']:<30} x{f['count']:<5} {f['explanation']}")
            lines.append(f"  {'':<7}  {'':<30} {'':<6} first: {f['first']} ({', '.join(f['examples'])})")
            lines.append(f"  {'':<7}  {'':<30} {'':<6} fix: {f['fix']}")
        for good in c["clean"]:
            lines.append(f"  ok       {good['text']}")
        lines.append("")
    lines.append(f"verdict: {v['verdict']} ({v['findings']} findings, {v['warnings']} warnings)")
    return "\n".join(lines)
