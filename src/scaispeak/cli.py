"""The ``scaispeak`` command: serve, worker, migrate, admin, say, voices."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from scaispeak.settings import ConfigurationError, Settings


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = _settings()
    if getattr(args, "data_dir", None):
        settings = settings.model_copy(update={"data_dir": Path(args.data_dir)})
    if getattr(args, "private_files", False):  # the database, voices' clips, jobs' audio
        os.umask(0o077)  # were made readable by every local user (umask 022)
    import httpx
    from redis.exceptions import RedisError
    from sqlalchemy.exc import SQLAlchemyError

    from scaispeak.platform.errors import ServiceError, innermost_cause
    from scaispeak.platform.storage import StorageUnusable

    try:
        result: int = args.handler(args, settings)
    except ServiceError as exc:  # refused input: one line, as the server's answer is
        raise SystemExit(f"error: {exc.code}: {exc.detail}") from None
    except httpx.HTTPError as exc:  # --server: refused connections, timeouts
        raise SystemExit(f"error: cannot reach the server: {exc}") from None
    except (ConfigurationError, StorageUnusable) as exc:
        raise SystemExit(f"error: {exc}") from None
    except BrokenPipeError:
        # `scaispeak voices | head`: the reader has all it wanted. (Database and Redis
        # clients wrap a broken socket in errors of their own, handled below.) Python
        # would also complain as it flushes stdout at exit: point it nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (SQLAlchemyError, ConnectionError) as exc:  # migrate, worker, admin
        cause = innermost_cause(exc)  # a refused connection under SQLAlchemy's wrappers
        raise SystemExit(f"error: cannot use the database: {_named(cause)}") from None
    except RedisError as exc:  # worker: the queue's Redis
        raise SystemExit(f"error: cannot use Redis: {_named(exc)}") from None
    except socket.gaierror as exc:  # the database driver's own lookup, unwrapped
        raise SystemExit(f"error: a host name in the settings does not resolve: {exc}") from None
    except OSError as exc:  # a data directory that cannot be made or written
        raise SystemExit(f"error: {_named(exc)}") from None
    return result


def _named(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _settings() -> Settings:
    """The settings from the environment; a value that does not parse is one line
    naming its variable, not a traceback."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"SCAISPEAK_{'__'.join(str(part) for part in error['loc']).upper()}: "
            f"{error['msg']}{_shown(error['loc'], error.get('input'))}"
            for error in exc.errors()
        ]
        raise SystemExit("error: invalid setting " + "; ".join(problems)) from None
    except SettingsError as exc:  # a JSON value that does not parse
        raise SystemExit(
            f"error: invalid setting: {exc}. List and mapping settings take JSON, e.g. "
            """SCAISPEAK_ENGINES__ENABLED='["piper"]' (docs/configuration.md)"""
        ) from None


GRACEFUL_SHUTDOWN_S = 30
"""How long `serve` waits on open connections when stopped, before closing them."""
_SECRET_HINTS = ("key", "secret", "credential", "password", "token", "url", "username")


def _shown(loc: tuple[int | str, ...], value: object) -> str:
    """What was given, where echoing it cannot leak a credential into start-up logs:
    plain values of fields whose names do not suggest a secret or a URL (which can hold
    a password). An object or list may hold a TURN credential anywhere inside it."""
    named = " ".join(str(part) for part in loc).lower()
    if any(hint in named for hint in _SECRET_HINTS):
        return ""
    if (
        value is None
        or isinstance(value, (bool, int, float))
        or (isinstance(value, str) and len(value) <= 80)
    ):
        return f" (got {value!r})"
    return ""


def _parser() -> argparse.ArgumentParser:
    data_help = "Data directory (default: SCAISPEAK_DATA_DIR or ./data)"
    parser = argparse.ArgumentParser(prog="scaispeak", description=__doc__)
    parser.add_argument("--data-dir", help=data_help)
    # Accepted after the command too (`scaispeak serve --data-dir X`); unset there, it
    # leaves the value given before the command alone.
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--data-dir", default=argparse.SUPPRESS, help=data_help)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[after], help="Run the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--no-worker", action="store_true", help="With Redis: leave jobs to `scaispeak worker`"
    )
    serve.set_defaults(handler=_serve, private_files=True)

    worker = sub.add_parser(
        "worker", parents=[after], help="Run synth jobs from Redis (distributed mode)"
    )
    worker.add_argument(
        "--ops-port", type=int, help="Serve /healthz, /readyz and /metrics on this port"
    )
    worker.add_argument("--ops-host", help="Address for --ops-port (default: SCAISPEAK_HOST)")
    worker.set_defaults(handler=_worker, private_files=True)

    migrate = sub.add_parser(
        "migrate", parents=[after], help="Upgrade the database schema to the latest revision"
    )
    migrate.set_defaults(handler=_migrate, private_files=True)

    admin = sub.add_parser("admin", help="Administration").add_subparsers(required=True)
    boot = admin.add_parser(
        "bootstrap", parents=[after], help="Create a tenant, a superadmin and an API key"
    )
    boot.add_argument("--tenant", default="default")
    boot.add_argument("--email", default="admin@localhost")
    boot.add_argument("--json", action="store_true", help="Print one JSON object")
    boot.set_defaults(handler=_bootstrap, private_files=True)
    issue = admin.add_parser(
        "issue-key",
        parents=[after],
        help="A new API key for an existing user (e.g. a lost bootstrap key)",
    )
    issue.add_argument("--email", default="admin@localhost")
    issue.add_argument("--name", default="issued by operator")
    issue.add_argument(
        "--tenant", help="Tenant id or name, when the email is a user in several tenants"
    )
    issue.set_defaults(handler=_issue_key, private_files=True)
    audit = admin.add_parser(
        "verify-audit", parents=[after], help="Check the voice audit hash chains"
    )
    audit.add_argument("--chain", action="append", help="Tenant id or 'global' (default: all)")
    audit.set_defaults(handler=_verify_audit, private_files=True)

    say = sub.add_parser("say", parents=[after], help="Synthesize TEXT to a file")
    say.add_argument("text")
    say.add_argument("-v", "--voice", default="voc_piper_en-us-joe-medium")
    say.add_argument("-f", "--format", default="wav")
    say.add_argument("-o", "--output", required=True)
    _add_remote_options(say)
    say.set_defaults(handler=_say)

    voices = sub.add_parser("voices", parents=[after], help="List voices")
    _add_remote_options(voices)
    voices.set_defaults(handler=_voices)
    return parser


def _add_remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", help="Base URL of a running service (else in-process)")
    parser.add_argument("--api-key", help="API key for --server (or SCAISPEAK_API_KEY)")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from scaispeak.logs import configure_logging
    from scaispeak.platform.ops_server import listening_socket

    configure_logging(settings.log_level)
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    settings.resolved_secret_key()  # a distributed deployment without one stops here
    try:
        # Bound before start-up (a minute of models), not after it announced "ready".
        listening = listening_socket(host, port)
    except OSError as exc:
        raise SystemExit(f"error: cannot listen on {host}:{port}: {exc.strerror}") from None
    asyncio.run(_check_dependencies(settings))
    from scaispeak.app import create_app  # the models' libraries: seconds to import
    from scaispeak.platform.body_limits import WEBSOCKET_MESSAGE_MAX_BYTES
    from scaispeak.platform.http_protocol import BoundedHeadProtocol

    app = create_app(settings, runs_jobs=not args.no_worker)
    # No uvicorn access log: it writes each URL whole, and a browser's ``?token=`` with
    # it. The app logs every request itself (platform/observability.py: request id,
    # route template, status, duration), never the query string.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        ws_max_size=WEBSOCKET_MESSAGE_MAX_BYTES,
        http=BoundedHeadProtocol,
        # A stop waited without end on a connection whose client had stopped reading
        # (helper-66); past this, what is left open is cut and the app shuts down.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    uvicorn.Server(config).run(sockets=[listening])
    return 0


async def _check_dependencies(settings: Settings) -> None:
    """Database, storage and Redis, checked before the server starts: a failure in its
    start-up is a traceback uvicorn logs, where here it is one line (``main``)."""
    from scaispeak.platform.db import Database
    from scaispeak.platform.readiness import check_dependencies
    from scaispeak.platform.storage import open_blob_store

    settings.make_data_dir()
    db = Database(settings.resolved_database_url)  # the app's open_database warns, once
    try:
        await check_dependencies(db, open_blob_store(settings), settings.redis_url)
    finally:
        await db.dispose()


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from scaispeak.logs import configure_logging
    from scaispeak.speak.jobs.worker import run_worker

    configure_logging(settings.log_level)
    ops = (args.ops_host or settings.host, args.ops_port) if args.ops_port else None
    asyncio.run(run_worker(settings, ops))
    return 0


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from scaispeak.platform.db import Database
    from scaispeak.platform.migrate import upgrade_to_head

    async def run() -> None:
        settings.make_database_dir()
        db = Database(settings.resolved_database_url)
        await upgrade_to_head(db.engine)
        await db.dispose()

    asyncio.run(run())
    print("database is at the latest revision")
    return 0


def _bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    from scaispeak.platform.auth.service import bootstrap
    from scaispeak.platform.db import Database
    from scaispeak.platform.migrate import upgrade_to_head

    async def run() -> dict[str, Any]:
        settings.make_database_dir()
        db = Database(settings.resolved_database_url)
        await upgrade_to_head(db.engine)
        async with db.sessions() as session:
            made = await bootstrap(session, args.tenant, args.email, only_if_empty=False)
        await db.dispose()
        assert made is not None
        return {
            "tenant": {"id": made.tenant.id, "name": made.tenant.name},
            "user": {"id": made.user.id, "email": made.user.email, "role": made.user.role.value},
            "api_key": {"id": made.key.key.id, "secret": made.key.secret},
        }

    created = asyncio.run(run())
    if args.json:
        print(json.dumps(created))
    else:
        print(f"tenant {created['tenant']['id']}, superadmin {created['user']['email']}")
        print(f"API key (shown once): {created['api_key']['secret']}")
    return 0


def _issue_key(args: argparse.Namespace, settings: Settings) -> int:
    from scaispeak.platform.auth.service import issue_key_by_operator
    from scaispeak.platform.db import Database
    from scaispeak.platform.migrate import upgrade_to_head

    _require_database(settings)

    async def run() -> tuple[str, str]:
        db = Database(settings.resolved_database_url)
        try:
            await upgrade_to_head(db.engine)
            async with db.sessions() as session:
                issued = await issue_key_by_operator(session, args.email, args.name, args.tenant)
                return issued.key.user_id, issued.secret
        finally:
            await db.dispose()

    user_id, secret = asyncio.run(run())
    print(f"user {user_id} ({args.email.lower()})")
    print(f"API key (shown once): {secret}")
    return 0


def _verify_audit(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 when any chain is broken (an entry edited, removed or reordered)."""
    from scaispeak.platform.db import Database
    from scaispeak.platform.migrate import upgrade_to_head
    from scaispeak.speak.voices.audit import ChainReport, is_chain, verify_chains

    _require_database(settings)

    async def run() -> list[ChainReport]:
        db = Database(settings.resolved_database_url)
        try:
            await upgrade_to_head(db.engine)  # a database from an older release
            async with db.sessions() as session:
                for chain in args.chain or []:
                    if not await is_chain(session, chain):
                        raise SystemExit(
                            f"error: no audit chain {chain[:80]!r}: name a tenant id or 'global'"
                        )
                return await verify_chains(session, args.chain)
        finally:
            await db.dispose()

    reports = asyncio.run(run())
    if not reports:
        print("no audit entries: nothing to verify")
    for r in reports:
        verdict = "intact" if r.intact else f"BROKEN at entry {r.first_bad_seq}: {r.problem}"
        print(f"{r.chain}: {r.entries} entries, {verdict}, head {r.head_hash[:16]}")
    return 0 if all(r.intact for r in reports) else 1


def _say(args: argparse.Namespace, settings: Settings) -> int:
    from scaispeak import local

    _require_writable(Path(args.output))  # before the server is asked, and charges
    if args.server:
        data = local.say_remote(
            args.server, _api_key(args, settings), args.text, args.voice, args.format
        )
    else:
        data = asyncio.run(local.say_in_process(settings, args.text, args.voice, args.format))
    Path(args.output).write_bytes(data)
    print(f"wrote {len(data)} bytes to {args.output}")
    return 0


def _voices(args: argparse.Namespace, settings: Settings) -> int:
    from scaispeak import local

    if args.server:
        rows = local.voices_remote(args.server, _api_key(args, settings))
    else:
        rows = local.voices_in_process(settings)
    for row in rows:
        print(f"{row['id']:40} {row['language']:8} {row['name']}")
    return 0


def _require_database(settings: Settings) -> None:
    """Commands that act on an existing deployment must not make an empty one in a
    mistyped data directory."""
    if settings.database_url:
        return
    path = settings.data_dir / "scaispeak.db"
    if not path.is_file():
        sys.exit(
            f"error: no database at {path.resolve()}: pass the service's --data-dir "
            "(or SCAISPEAK_DATA_DIR / SCAISPEAK_DATABASE_URL)"
        )


def _require_writable(output: Path) -> None:
    folder = output.resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        sys.exit(f"error: cannot write {output}: {folder} is not a writable directory")


def _api_key(args: argparse.Namespace, settings: Settings) -> str:
    key = args.api_key or settings.api_key
    if not key:
        sys.exit("error: --api-key or SCAISPEAK_API_KEY is needed with --server")
    return str(key)


if __name__ == "__main__":
    sys.exit(main())
