"""What a request handler needs: the config, the store and the in-memory limiter of one app."""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import dataclass, field

from starlette.requests import Request

from .config import Config
from .ratelimit import ClientLimiter
from .store import Store


@dataclass
class Bank:
    config: Config
    store: Store
    create_limiter: ClientLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.create_limiter = ClientLimiter(self.config.create_limit, self.config.create_window_seconds)


def bank_of(request: Request) -> Bank:
    return request.app.state.bank


async def in_thread(fn, *args):
    """CPU work (scrypt) off the event loop, so other requests keep flowing."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
