"""What a request handler needs: the config, the store and the in-memory limiter of one app."""

from __future__ import annotations

import asyncio
import datetime
import functools
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


# hashlib.scrypt holds the GIL, so a thread adds no parallelism, only a hand-off; it is worth it
# only when a hash takes long enough (a few ms) to hold up every other request on the loop.
INLINE_SCRYPT_COST = 2**13


async def scrypt(bank: Bank, fn, *args):
    """Run a PIN hash or check with the configured cost, inline when cheap, else in a thread."""
    config = bank.config
    call = functools.partial(fn, *args, n=config.scrypt_n, r=config.scrypt_r, p=config.scrypt_p)
    if config.scrypt_n * config.scrypt_r * config.scrypt_p <= INLINE_SCRYPT_COST:
        return call()
    return await asyncio.get_running_loop().run_in_executor(None, call)


def iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
