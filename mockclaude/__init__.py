"""mockclaude: test and load-test Claude applications offline."""

__version__ = "0.1.0"
