"""`--max-requests` / `--max-output-tokens`: stop sending once a limit is reached."""

from dataclasses import dataclass

from replay.records import RequestRecord


def share(total: int, index: int, count: int) -> int:
    """This process's part of a limit split over `count` processes (0 stays 0: no limit)."""
    if total <= 0:
        return 0
    return total // count + (1 if index < total % count else 0)


@dataclass
class Budget:
    """Counts requests sent and output tokens received against the limits (0 means unlimited)."""

    max_requests: int = 0
    max_output_tokens: int = 0
    sent: int = 0
    output_tokens: int = 0
    in_flight: int = 0

    @property
    def exhausted(self) -> bool:
        """True once a limit has been reached: no new request may start."""
        return bool(
            (self.max_requests and self.sent >= self.max_requests)
            or (self.max_output_tokens and self.output_tokens >= self.max_output_tokens)
        )

    def take(self) -> bool:
        """Reserve one request; False when a limit has been reached."""
        if self.exhausted:
            return False
        self.sent += 1
        self.in_flight += 1
        return True

    def settle(self, record: RequestRecord) -> None:
        """Account for a finished request."""
        self.in_flight -= 1
        self.output_tokens += record.output_tokens or 0

    @property
    def finished(self) -> bool:
        """Exhausted and nothing in flight: this process is done."""
        return self.exhausted and self.in_flight == 0
