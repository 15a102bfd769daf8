"""What the API imposes on a caller: rate-limit token buckets (local, shared memory, Redis) and faults.

May import: mockclaude.wire, mockclaude.models, mockclaude.tokens. Never synth, privacy, fixtures or
server.
"""
