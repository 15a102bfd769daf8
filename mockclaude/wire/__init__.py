"""The Anthropic wire format: ids, error envelopes, SSE framing, validation, response objects.

Pure, no I/O. The lowest layer: imports nothing of mockclaude (the model type in validation is a
type-only import).
"""
