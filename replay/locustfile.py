"""A ready locustfile: `locust -f replay/locustfile.py --host http://127.0.0.1:8080 --fixtures f.jsonl`.

Run `locust -f replay/locustfile.py --help` for the replay options (--fixtures, --workload-profile,
--rate, --speed, --think-time, --retry, --report, --real, --max-requests, --max-output-tokens).
"""

from replay.users import ReplayUser

__all__ = ["ReplayUser"]
