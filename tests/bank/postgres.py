"""A throwaway PostgreSQL server for tests and benchmarks: installed from Debian if missing,
initialised in a temporary folder, listening only on a Unix socket there, removed at the end."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from site_build.system import free_port


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def ensure_installed() -> Path:
    """Debian's PostgreSQL binaries, apt-installed when this runs as root and they are absent."""
    bin_dir = _bin_dir()
    if bin_dir:
        return bin_dir
    if os.geteuid() != 0:
        raise PostgresUnavailable("PostgreSQL is missing; installing it needs root (apt-get install postgresql)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
    for cmd in (["apt-get", "update", "-q"], install):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    bin_dir = _bin_dir()
    if not bin_dir:
        raise PostgresUnavailable("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/pg_ctl appeared")
    return bin_dir


class PostgresServer:
    """`with PostgresServer() as pg: pg.new_database()` -> a postgresql:// URL of an empty database."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable  # benchmarks keep fsync on; tests trade it for speed
        self.folder: Path | None = None
        self.port = free_port()

    def __enter__(self) -> PostgresServer:
        bin_dir = ensure_installed()
        self.folder = Path(tempfile.mkdtemp(prefix="hashbank-pg-"))
        data = self.folder / "data"
        # PostgreSQL refuses to run as root: then the cluster belongs to Debian's `postgres` user.
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_user:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run([*as_user, bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        options = f"-c listen_addresses='' -c unix_socket_directories='{self.folder}' -p {self.port}"
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self._stop_cmd = [*as_user, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop"]
        self._run([*as_user, bin_dir / "pg_ctl", "-D", data, "-o", options, "-l", self.folder / "log", "-w", "start"])
        return self

    def _run(self, cmd: list) -> None:
        done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=self.folder)
        if done.returncode != 0:
            log = (self.folder / "log").read_text() if self.folder and (self.folder / "log").exists() else ""
            raise PostgresUnavailable(f"{' '.join(map(str, cmd))} failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.folder}&port={self.port}"

    def new_database(self) -> str:
        import psycopg

        name = "bank_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.split("/")[3].split("?")[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def __exit__(self, *exc) -> None:
        try:
            subprocess.run([str(c) for c in self._stop_cmd], capture_output=True, timeout=60, cwd=self.folder)
        finally:
            time.sleep(0.1)
            shutil.rmtree(self.folder, ignore_errors=True)
