"""Real processes on 127.0.0.1 for tests (the helpers live in mockclaude.processes)."""

from mockclaude.processes import READY, Proc, mock_server, run_process

__all__ = ["READY", "Proc", "mock_server", "run_process"]
