"""Replay fixtures as Locust load tests and report LLM latency metrics (TTFT, ITL, TPOT, E2E).

Importing this package is light: Locust (and gevent's monkey patching) is imported only by
`replay.users` and `replay.locustfile`, so the CLI process stays unpatched.

May import mockclaude's fixtures layer and everything below it (and mockclaude.processes for the
demo's server). Never mockclaude.server or recorder.
"""
