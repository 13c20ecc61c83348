"""The physical limit of the stack: a bare ASGI app that reads the body and answers 200, nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]

ANSWER_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"3")]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await answer_ok(send)


async def answer_ok(send: Callable[[Message], Awaitable[None]]) -> None:
    """200 with a 3-byte body: the answer of this app and of the floor app."""
    await send({"type": "http.response.start", "status": 200, "headers": ANSWER_HEADERS})
    await send({"type": "http.response.body", "body": b"OK\n"})
