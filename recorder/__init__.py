"""The recorder: a mitmproxy addon that passes Messages API traffic through and writes anonymized fixtures.

May import mockclaude's fixtures layer and everything below it (privacy, tokens, wire). Never
mockclaude.server or replay.
"""
