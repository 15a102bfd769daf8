"""Quiet mitmproxy's per-connection chatter, which costs the proxy time on the path of every request.

mitmproxy logs six INFO lines for every proxied connection ("client connect", "server connect ...",
"Streaming request to ...", "Streaming response from ...", and the two disconnects). Each record is
formatted and dispatched to every addon as an `add_log` event on the proxy's event loop, whatever
`termlog_verbosity` says; three of them come before the request reaches the upstream. Dropping
them at the logger, before any handler runs, leaves every other message (errors, and INFO lines
like "error establishing server connection") untouched.
"""

import logging

LOGGER = "mitmproxy.proxy.server"
CHATTER = (
    "client connect",
    "client disconnect",
    "server connect ",
    "server disconnect ",
    "Streaming request to ",
    "Streaming response from ",
)


def not_chatter(record: logging.LogRecord) -> bool:
    """A logging filter: False for mitmproxy's routine per-connection INFO lines."""
    return record.levelno > logging.INFO or not (isinstance(record.msg, str) and record.msg.startswith(CHATTER))


def show_connections(show: bool) -> None:
    """Let mitmproxy's per-connection lines through (`show`) or drop them."""
    logger = logging.getLogger(LOGGER)
    if show:
        logger.removeFilter(not_chatter)
    else:
        logger.addFilter(not_chatter)
