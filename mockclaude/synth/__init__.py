"""Synthetic answers and their timing: what to say (content, schema instances) and when (pacing into frames).

May import: mockclaude.wire, mockclaude.models, mockclaude.tokens. Never the fixtures, limits,
privacy or server layers.
"""
