"""Privacy filters shared by the recorder and `fixtures scan`: secret and PII detectors, keyed
pseudonyms, the anonymizer and its modes.

May import: mockclaude.wire, mockclaude.models, mockclaude.tokens. Never synth, limits, fixtures or
server.
"""
