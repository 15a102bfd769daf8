"""A ready locustfile: `locust -f replay/locustfile.py --host http://127.0.0.1:8080 --fixtures f.jsonl`.

The replay options (--fixtures, --workload-profile, --rate, --speed, --think-time, --retry,
--report, --real, --max-requests, --max-output-tokens, --seed) are Locust custom arguments; Locust's
own --help does not list them, `mockclaude replay --help` does.
"""

from replay.users import ReplayUser

__all__ = ["ReplayUser"]
