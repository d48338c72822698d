"""Per-client limits kept in memory under a keyed hash of the address, never the address itself."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

MAX_CLIENTS = 100_000  # memory bound: past this, the oldest windows are dropped


class ClientLimiter:
    """At most `limit` events per client per `window` seconds (a fixed window per client).

    The key is HMAC-SHA-256 of the client address under a random key made when the process
    starts and never stored: nobody, including whoever reads this process's memory later, can
    turn an entry back into an address without brute-forcing the key.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._key = secrets.token_bytes(32)
        self._windows: dict[bytes, tuple[float, int]] = {}  # keyed hash -> (window start, count)
        self._lock = threading.Lock()

    def _client_key(self, address: str) -> bytes:
        return hmac.new(self._key, address.encode(), hashlib.sha256).digest()[:16]

    def allow(self, address: str, now: float | None = None) -> float:
        """0 when the event may happen (and counts it); otherwise seconds until it may."""
        if self.limit <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        client = self._client_key(address)
        with self._lock:
            start, count = self._windows.get(client, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            if count >= self.limit:
                return max(start + self.window - now, 1.0)
            self._windows[client] = (start, count + 1)
            if len(self._windows) > MAX_CLIENTS:
                self._prune(now)
            return 0.0

    def _prune(self, now: float) -> None:
        expired = [k for k, (start, _) in self._windows.items() if now - start >= self.window]
        for k in expired:
            del self._windows[k]
        while len(self._windows) > MAX_CLIENTS:  # all still live: drop the oldest (dicts keep order)
            del self._windows[next(iter(self._windows))]
