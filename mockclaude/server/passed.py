"""Messages bodies that passed the API's checks lately, by their bytes, with what the checks found.

A load test resends the same prompts (replay cycles its recorded ones, an SDK's retries resend the
body as it was), and for the same bytes the checks give the same answer: validation, the model and
its limits, the cache breakpoints and the token count depend on the body and on options fixed at
start only. A body seen lately is parsed again (each request gets its own objects) but not checked
again. Only bodies that passed are kept, so every failing body gets its error anew.
"""

from dataclasses import dataclass

from mockclaude.limits.prompt_cache import Breakpoint
from mockclaude.models import ModelInfo
from mockclaude.recent import Recent

# Larger bodies are not kept: hashing one costs ~0.3 us per KiB, and from 256 KiB on the count runs
# in a thread anyway (server.common.OFFLOAD_COUNT_BYTES).
MAX_BODY_BYTES = 256 * 1024
# The bodies held, in bytes; the oldest go first when a new one would exceed it.
HELD_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Passed:
    """What the checks of one body found."""

    info: ModelInfo
    breakpoints: tuple[Breakpoint, ...]
    input_tokens: int | None  # the counted prompt; None when the prompt cache counted it instead


class PassedBodies(Recent[bytes, Passed]):
    """Bodies that passed lately, bounded by their total size."""

    def __init__(self, held_bytes: int = HELD_BYTES) -> None:
        super().__init__(held_bytes, largest=MAX_BODY_BYTES)
