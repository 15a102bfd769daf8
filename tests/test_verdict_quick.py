"""The judge's shortcut for plain successes (Judge.passed) reaches the verdict observe() reaches."""

import random

from mockclaude.verdict.judge import Judge, Seen


def history(rng: random.Random) -> list[Seen]:
    """A few clients' requests: successes, retried failures, limits, stalls, long non-streaming calls."""
    t, out = 0.0, []
    for i in range(400):
        t += rng.choice([0.001, 0.05, 0.3, 2.0])
        status = rng.choice([200] * 40 + [429, 500, 529, 400, 0])
        limited = rng.random() < 0.15
        out.append(
            Seen(
                key=rng.choice(["…aaaa", "…bbbb"]),
                scope=rng.choice([None, None, "t1"]),
                # Failures are retried bodies; a success ends their chain or is a request of its own.
                fingerprint=rng.choice([b"a", b"b"]) if status != 200 or rng.random() < 0.5 else str(i).encode(),
                request_id=f"req_{i}",
                arrived=t,
                done=t + rng.choice([0.001, 0.5]),
                status=status,
                retry_after_s=rng.choice([None, None, 1.0, 30.0]),
                should_retry=rng.choice([None, True, False]),
                broken=rng.choice([None] * 30 + ["midstream", "truncate"]) if status == 200 else None,
                quiet_until=t + 1.0 if limited and rng.random() < 0.3 else None,
                stream=rng.random() < 0.5,
                max_tokens=rng.choice([20, 1_000, 64_000]),
                in_flight=rng.randrange(1, 5),
                capacity=rng.choice([2, 60]) if limited else None,
                stall=rng.choice([None] * 9 + [(1.0, True)]),
            )
        )
    return out


def test_the_shortcut_changes_no_verdict() -> None:
    for seed in range(30):
        seen = history(random.Random(seed))
        plain, quick = Judge(), Judge()
        shortcuts = 0
        for s in seen:
            plain.observe(s)
            # What server.watch vouches for before asking for the shortcut.
            plain_success = s.status == 200 and s.broken is None and s.capacity is None and s.stall is None
            if plain_success and s.quiet_until is None and quick.passed(s.key, s.scope, s.stream, s.max_tokens):
                shortcuts += 1
            else:
                quick.observe(s)
        assert quick.verdict() == plain.verdict()
        assert shortcuts > 0
