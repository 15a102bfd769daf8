"""Moved to `mockclaude.pseudonyms` (the server needs the same keyed pseudonyms to match fixtures);
re-exported so recorder imports keep working."""

from mockclaude.pseudonyms import KEY_BYTES, Pseudonymizer, key_fingerprint, key_path_for, load_or_create_key

__all__ = ["KEY_BYTES", "Pseudonymizer", "key_fingerprint", "key_path_for", "load_or_create_key"]
