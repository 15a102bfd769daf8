"""The Anthropic wire format: ids, error envelopes, SSE framing, validation. Pure, no I/O."""
