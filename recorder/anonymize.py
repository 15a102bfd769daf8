"""Moved to `mockclaude.anonymize` (the server anonymizes incoming requests the same way to match
fixtures, and mockclaude/ must not import recorder/); re-exported so recorder imports keep working."""

from mockclaude.anonymize import TINY_PNG, Anonymizer, Span, placeholder, split_apply

__all__ = ["TINY_PNG", "Anonymizer", "Span", "placeholder", "split_apply"]
