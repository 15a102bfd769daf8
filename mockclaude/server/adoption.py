"""While a worker of `serve --workers N` is dead, the other workers accept on its listening socket.

Each worker has a listening socket of its own, all bound to one port (server.workers); the kernel
keeps sending a share of the new connections to a dead worker's socket, which the parent holds
open until the replacement listens on it. Those connections wait in that socket's queue: every
live worker looks at the board (server.supervision) every POLL_S and accepts on the socket of a
worker that died, until its replacement accepts. Not at start-up: a worker that accepted for one
still starting would take the first connections of both.
"""

import asyncio
import logging
import socket

from aiohttp import web

from mockclaude.server import supervision

log = logging.getLogger("mockclaude.server")

# How soon a dead worker's socket is taken over (the connections on it wait that long at most).
POLL_S = 0.02


async def adopt_orphans(runner: web.BaseRunner, others: dict[int, socket.socket], backlog: int) -> None:
    """Until cancelled: accept on `others` (sockets by worker index) while their worker is dead."""
    board = supervision.board
    if board is None or not others:
        return
    adopted: dict[int, web.SockSite] = {}
    while True:
        for index, sock in others.items():
            orphaned = board.orphaned(index)
            if orphaned and index not in adopted:
                try:
                    # A copy of the socket: stopping the site closes the socket it was given.
                    copy = sock.dup()
                except OSError as exc:  # out of descriptors: the next round tries again
                    log.warning("cannot accept for dead worker %d: %s", index, exc)
                    continue
                adopted[index] = web.SockSite(runner, copy, backlog=backlog)
                await adopted[index].start()
            elif not orphaned and index in adopted:
                # Connections already accepted stay with this worker; new ones go to their own.
                await adopted.pop(index).stop()
        await asyncio.sleep(POLL_S)
