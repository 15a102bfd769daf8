"""The API's error envelope, the status→type table and retry hints."""

import json
from typing import Any

# Status → error.type as the real API sends them (reference §4.2).
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

DEFAULT_MESSAGES: dict[int, str] = {
    400: "Invalid request",
    401: "invalid x-api-key",
    403: "Permission denied",
    404: "The requested resource could not be found.",
    405: "Method not allowed",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Rate limited",
    500: "Internal server error",
    504: "Request timed out",
    529: "Overloaded",
}


def should_retry(status: int) -> bool:
    """What the real API says in `x-should-retry` for this status."""
    return status in (408, 409, 429) or status >= 500


class ApiError(Exception):
    """An error answered in the API's own shape: status, error.type, message, extra headers."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.message = message if message is not None else DEFAULT_MESSAGES.get(status, "Error")
        self.headers = dict(headers or {})
        super().__init__(f"{status} {self.error_type}: {self.message}")

    def body(self, request_id: str | None) -> dict[str, Any]:
        """The JSON envelope for this error."""
        return error_body(self.error_type, self.message, request_id)


def error_body(error_type: str, message: str, request_id: str | None) -> dict[str, Any]:
    """`{"type":"error","error":{"type":…,"message":…},"request_id":…}`."""
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


def error_bytes(error_type: str, message: str, request_id: str | None) -> bytes:
    """The error envelope, encoded compactly as the real API does."""
    return json.dumps(error_body(error_type, message, request_id), separators=(",", ":")).encode()
