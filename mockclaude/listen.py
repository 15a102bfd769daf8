"""Addresses to listen on: try one before a server starts, and say in one line why it cannot be used.

`serve` and `record` both bind a host and port given on the command line; a taken port or a host
that is not this machine's must end the command at once with a sentence, not a traceback (or, for
mitmproxy, a process that never exits).
"""

import errno
import socket


class ListenError(Exception):
    """The address cannot be listened on; str() is the one line to show."""


def explain(host: str, port: int, exc: OSError) -> ListenError:
    """The one-line reason `host:port` could not be bound, with what to do about it."""
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        why = f"{host!r} is not an address or known host name ({exc.strerror}); give --host an address of this machine"
    elif exc.errno == errno.EADDRINUSE:
        why = "the port is already in use (another server?); pick another --port, or --port 0 for a free one"
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = f"{host} is not an address of this machine; use 127.0.0.1 (the default) or one of its own addresses"
    elif exc.errno == errno.EACCES:
        why = "permission denied (ports below 1024 need root); pick a port >= 1024"
    else:
        why = exc.strerror or str(exc)
    return ListenError(f"cannot listen on {where}: {why}")


def check_listen(host: str, port: int) -> None:
    """Bind `host:port` for a moment (port 0 is always free); ListenError when that fails."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            # As servers do: a port in TIME_WAIT after a previous run is free, a listening one is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        raise explain(host, port, exc) from None
