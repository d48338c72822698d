"""hashbank [--database PATH-OR-URL] serve | migrate | backup PATH | restore PATH [--overwrite]
| partner add NAME | partner list | partner rotate NAME | partner revoke NAME.

(`python -m hashbank` is the same command.) Every command prints JSON; errors go to stderr as
{"ok": false, "error": {"code", "message"}} with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from .config import DEFAULT_DATABASE, ENV_CONFIG, ENV_METRICS_TOKEN, Config
from .schema import SchemaMismatch


def app_from_env():
    """The app each uvicorn worker process builds (`serve --workers N`): config comes from the env."""
    from .app import create_app

    return create_app(Config.from_env())


def _error(code: str, message: str) -> int:
    print(json.dumps({"ok": False, "error": {"code": code, "message": message}}), file=sys.stderr)
    return 1


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app
    from .metrics import MIN_TOKEN_LENGTH, MULTIPROC_ENV
    from .store import Store

    origins = list(args.cors_origin or [])
    origins += [o for o in re.split(r"[\s,]+", os.environ.get("HASHBANK_CORS_ORIGINS", "")) if o]
    config = Config(
        database=args.database,
        cors_origins=tuple(dict.fromkeys(origins)),
        static_dir=Path(args.static_dir) if args.static_dir else None,
        create_limit=args.create_limit,
        scrypt_n=args.scrypt_n,
    )
    if args.scrypt_n < 2 or args.scrypt_n & (args.scrypt_n - 1):
        _error("usage", "--scrypt-n must be a power of 2")
        return 2
    if config.metrics_token is not None and len(config.metrics_token) < MIN_TOKEN_LENGTH:
        message = f"{ENV_METRICS_TOKEN} must be at least {MIN_TOKEN_LENGTH} characters"
        _error("usage", message)
        return 2
    # Opened once here, before uvicorn: an empty database gets its schema, and a database at another
    # schema version stops the command with what to run, instead of every worker failing to start.
    Store(args.database, read_threads=1).close()
    # access_log=False: uvicorn would otherwise log every client's address and request line.
    common = {"host": args.host, "port": args.port, "access_log": False, "server_header": False}
    if args.workers > 1:
        os.environ[ENV_CONFIG] = config.to_env()
        # The workers count into files in a folder of this run's own, so that a scrape answered by any of them
        # sums them all (hashbank/metrics.py); one from an earlier run would add its counts: never reused.
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="hashbank-metrics-")
        try:
            uvicorn.run("hashbank.cli:app_from_env", factory=True, workers=args.workers, **common)
        finally:
            shutil.rmtree(os.environ.pop(MULTIPROC_ENV), ignore_errors=True)
    else:
        uvicorn.run(create_app(config), **common)
    return 0


def _partner(args: argparse.Namespace) -> int:
    from .partners import add_partner, list_partners, revoke_partner, rotate_partner
    from .store import Store

    store = Store(args.database, read_threads=1)
    try:
        if args.action == "add":
            print(json.dumps(add_partner(store, args.name)))
        elif args.action == "list":
            for partner in list_partners(store):
                print(json.dumps(partner))
        elif args.action == "rotate":
            print(json.dumps(rotate_partner(store, args.name)))
        else:
            revoke_partner(store, args.name)
            print(json.dumps({"name": args.name, "revoked": True}))
    except ValueError as exc:
        return _error("usage", str(exc))
    finally:
        store.close()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from .schema import migrate
    from .store import connect, dialect_of, run_write

    conn = connect(args.database)
    try:
        report = run_write(conn, dialect_of(args.database), 0, migrate)
    finally:
        conn.close()
    print(json.dumps(report))
    return 0


def _backup_or_restore(args: argparse.Namespace) -> int:
    from .backup import BackupError, backup, restore

    try:
        if args.command == "backup":
            done = backup(args.database, Path(args.path))
        else:
            done = restore(Path(args.path), args.database, overwrite=args.overwrite)
    except BackupError as exc:
        return _error(exc.code, exc.message)
    except OSError as exc:  # a full disk, a folder we may not write: said as data, never a traceback
        return _error("os_error", str(exc))
    print(json.dumps(done))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m hashbank", description=__doc__)
    top.add_argument(
        "--database",
        default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE,
        help=f"SQLite file path or postgresql:// URL (default: $DATABASE_URL, else {DEFAULT_DATABASE})",
    )
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (uvicorn, no access log)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="a site mirror's origin allowed to call the victim API (repeatable; also $HASHBANK_CORS_ORIGINS)",
    )
    serve.add_argument("--static-dir", help="also serve this folder (the built site) at /")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--create-limit", type=int, default=Config.create_limit, help="new cases per client per hour (0: no limit)"
    )
    serve.add_argument(
        "--scrypt-n",
        type=int,
        default=Config.scrypt_n,
        help=f"scrypt cost N for new PIN hashes, a power of 2 (default {Config.scrypt_n}; README: PINs)",
    )
    commands.add_parser(
        "migrate",
        help="bring the database to this hashbank's schema version, in one transaction (back it up first)",
    )
    partner = commands.add_parser("partner", help="manage platforms' keys")
    actions = partner.add_subparsers(dest="action", required=True)
    actions.add_parser("add", help="create a partner and print its keys, once").add_argument("name")
    actions.add_parser("list", help="list partners (no keys: only their hashes are stored)")
    actions.add_parser(
        "rotate", help="give a partner new keys, printed once; the old ones stop at once (feedback stays)"
    ).add_argument("name")
    actions.add_parser("revoke", help="revoke a partner's keys (403 from then on)").add_argument("name")
    backup = commands.add_parser(
        "backup", help="copy the SQLite bank, consistent while it serves, into PATH (PostgreSQL: pg_dump, README)"
    )
    backup.add_argument("path", help="the backup file (replaced only once the new copy is complete and checked)")
    restore = commands.add_parser("restore", help="copy a backup into --database, checked before and after")
    restore.add_argument("path", help="a file `hashbank backup` wrote")
    restore.add_argument("--overwrite", action="store_true", help="replace a database that already holds cases")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    commands = {"serve": _serve, "migrate": _migrate, "partner": _partner}
    commands |= {"backup": _backup_or_restore, "restore": _backup_or_restore}
    command = commands[args.command]
    try:
        return command(args)
    except SchemaMismatch as exc:
        return _error(exc.code, exc.message)
