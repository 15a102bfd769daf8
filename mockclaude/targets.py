"""Where a mockclaude part may send real traffic: loopback freely; anywhere else only with `--real`,
the key taken from the environment (never the command line). Shared by replay (`--host`) and
`serve --record-missing` (`--upstream`); imports nothing of ours."""

import ipaddress
import os
import socket
from urllib.parse import urlsplit

API_KEY_ENV = "ANTHROPIC_API_KEY"
# Any non-empty key works with the mock; a real key is never needed for loopback.
MOCK_KEY = "sk-ant-mockclaude-replay"


class UnsafeTarget(ValueError):
    """The run would send traffic somewhere it was not explicitly allowed to."""


def is_loopback(host_url: str) -> bool:
    """True when every address the URL's host resolves to is in 127.0.0.0/8 (or ::1)."""
    host = urlsplit(host_url).hostname
    if not host:
        return False
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def check_target(host_url: str, real: bool, environ: dict[str, str] | None = None, flag: str = "--host") -> str:
    """The API key to send to `host_url` (given by `flag`); UnsafeTarget when the target is not allowed."""
    env = os.environ if environ is None else environ
    if not host_url:
        raise UnsafeTarget(f"no target: give {flag} http://127.0.0.1:PORT (a `mockclaude serve`)")
    scheme = urlsplit(host_url).scheme
    if scheme not in ("http", "https"):
        raise UnsafeTarget(f"{flag} must be an http(s) URL, not {host_url!r}")
    if is_loopback(host_url):
        return env.get(API_KEY_ENV) or MOCK_KEY
    if not real:
        raise UnsafeTarget(
            f"{flag} {host_url} is outside 127.0.0.0/8: this would send real requests (and may cost money). "
            "Add --real to do it on purpose."
        )
    key = env.get(API_KEY_ENV, "")
    if not key:
        raise UnsafeTarget(
            f"--real needs the API key in the {API_KEY_ENV} environment variable (never on the command line)"
        )
    return key
