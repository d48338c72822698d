"""Config: where the data lives, who may call from a browser, and the limits; read from env too."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_DATABASE = "data/hashbank.sqlite3"
ENV_CONFIG = "HASHBANK_CONFIG"  # how `serve --workers N` hands the config to each worker process
# In the environment, not a command-line option: a process's arguments are readable by every local user (ps).
ENV_METRICS_TOKEN = "HASHBANK_METRICS_TOKEN"


@dataclass(frozen=True)
class Config:
    # A SQLite file path (created with its folder on first start) or a postgresql:// URL.
    database: str = field(default_factory=lambda: os.environ.get("DATABASE_URL") or DEFAULT_DATABASE)
    # Browser origins of site mirrors allowed to call the victim API (CORS); the site served by
    # this same app needs none.
    cors_origins: tuple[str, ...] = ()
    # When set, the app also serves this folder at / (the built site), adding static_headers, sending a file's
    # .br/.gz sibling to clients that accept it (hashbank/static.py), and Cache-Control by the first of
    # static_cache_rules, (regex, value), whose regex is found in the file's path (site_build/headers.py's).
    static_dir: Path | None = None
    static_headers: dict[str, str] = field(default_factory=dict)
    # The default is the site's own rule (site_build/headers.py CACHE_RULES, which a test compares with it): a bank
    # serving a built site with no rules would let browsers guess, and keep an index.html naming a runtime folder
    # the next release has deleted.
    static_cache_rules: tuple[tuple[str, str], ...] = (
        (r"(?:^|/)pyodide-[0-9a-f]{16}/", "public, max-age=31536000, immutable"),
        ("", "no-cache"),
    )
    # Case creation per client (keyed hash of its address, in memory): at most this many per window.
    # 0 turns the limit off (benchmarks do that: all their clients are 127.0.0.1).
    create_limit: int = 20
    create_window_seconds: int = 3600
    # Wrong PINs: this many per case, then one attempt per lockout window.
    pin_attempts: int = 10
    pin_lockout_seconds: int = 3600
    # scrypt cost for PINs (RFC 7914 N, r, p): 128 KiB and about 0.4 ms per hash. A 6-digit PIN has
    # only 10^6 values, so no affordable cost stops an offline search of a stolen database; what does
    # is that the case number it would unlock is stored only as a SHA-256 (README "PINs"). Each hash
    # carries its parameters, so raising N later (`serve --scrypt-n`) needs no migration.
    scrypt_n: int = 2**10
    scrypt_r: int = 1
    scrypt_p: int = 1
    # Threads that read the database (each with its own connection).
    read_threads: int = 4
    # GET /metrics answers only `Authorization: Bearer <this>`; unset, /metrics is 404 (hashbank/metrics.py).
    metrics_token: str | None = field(default_factory=lambda: os.environ.get(ENV_METRICS_TOKEN) or None, repr=False)

    def to_env(self) -> str:
        data = asdict(self)
        data["static_dir"] = str(self.static_dir) if self.static_dir else None
        return json.dumps(data)

    @classmethod
    def from_env(cls) -> Config:
        data = json.loads(os.environ[ENV_CONFIG])
        data["cors_origins"] = tuple(data["cors_origins"])
        data["static_cache_rules"] = tuple((pattern, value) for pattern, value in data["static_cache_rules"])
        data["static_dir"] = Path(data["static_dir"]) if data["static_dir"] else None
        return cls(**data)

    @property
    def is_postgres(self) -> bool:
        return is_postgres_url(self.database)


def is_postgres_url(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))
