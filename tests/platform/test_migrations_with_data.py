"""Upgrading a database in use: rows survive every migration since 0011, 0014
carries voice popularity over to per-tenant counts, and 0017 dates old ledger lines.

0012 failed on any SQLite database with users ("FOREIGN KEY constraint failed": its
table rebuild dropped the users that API keys refer to), so an embedded install that
had ever issued a key could not start after the upgrade.
"""

from __future__ import annotations

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from scaispeak.platform.db import Database
from scaispeak.platform.migrate import alembic_config


def _upgrade(revision: str) -> object:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    return run


async def test_upgrading_keeps_rows_and_counts_per_tenant(own_postgres_url: str) -> None:
    await _check_carry_over(own_postgres_url)


async def test_upgrading_keeps_rows_and_counts_per_tenant_on_sqlite(tmp_path: object) -> None:
    await _check_carry_over(f"sqlite+aiosqlite:///{tmp_path}/m.db")


async def _check_carry_over(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_upgrade("0011"))
            for statement in _OLD_ROWS:
                await conn.execute(text(statement))
        async with db.engine.begin() as conn:
            await conn.run_sync(_upgrade("head"))
            rows = await conn.execute(
                text("SELECT tenant_id, voice_id, uses FROM voice_tenant_uses ORDER BY 1, 2")
            )
            counts = [tuple(row) for row in rows]
            kept = {
                table: (await conn.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar()
                for table in ("users", "api_keys", "voice_uses")
            }
            # 0017: old ledger lines count in the period they settled in.
            undated = (
                "SELECT COUNT(*) FROM usage_ledger WHERE charged_at IS DISTINCT FROM created_at"
            )
            if conn.dialect.name == "sqlite":
                undated = undated.replace("IS DISTINCT FROM", "IS NOT")
            assert (await conn.execute(text(undated))).scalar() == 0
            if conn.dialect.name == "sqlite":
                assert list(await conn.execute(text("PRAGMA foreign_key_check"))) == []
    finally:
        await db.dispose()
    # Tenant A's own voice keeps its count; the global voice's uses are split by the
    # ledger, one per charged request of each tenant.
    assert kept == {"users": 2, "api_keys": 2, "voice_uses": 1}
    assert counts == [("ten_a", "voc_a", 4), ("ten_a", "voc_g", 2), ("ten_b", "voc_g", 1)]


_OLD_ROWS = [
    "INSERT INTO tenants (id, name, created_at) VALUES ('ten_a', 'a', CURRENT_TIMESTAMP)",
    "INSERT INTO tenants (id, name, created_at) VALUES ('ten_b', 'b', CURRENT_TIMESTAMP)",
    *(
        "INSERT INTO users (id, tenant_id, email, name, role, created_at)"
        f" VALUES ('usr_{t}', 'ten_{t}', '{t}@example.com', 'n', 'member', CURRENT_TIMESTAMP)"
        for t in "ab"
    ),
    *(
        "INSERT INTO api_keys (id, tenant_id, user_id, name, prefix, secret_hash, created_at)"
        f" VALUES ('key_{t}', 'ten_{t}', 'usr_{t}', 'k', 'p{t}', 'h{t}', CURRENT_TIMESTAMP)"
        for t in "ab"
    ),
    *(
        "INSERT INTO voices (id, scope, tenant_id, name, description, language, tags, engine,"
        " engine_voice, status, status_reason, usage_count, created_at, updated_at,"
        " embedding_version)"
        f" VALUES ('{vid}', '{scope}', {tenant}, 'v', '', 'en-US', '[]', 'piper', 'x',"
        f" 'ready', '', {count}, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '')"
        for vid, scope, tenant, count in [
            ("voc_a", "tenant", "'ten_a'", 4),
            ("voc_g", "global", "NULL", 3),
        ]
    ),
    "INSERT INTO voice_uses (user_id, voice_id, used_at)"
    " VALUES ('usr_a', 'voc_a', CURRENT_TIMESTAMP)",
    *(
        "INSERT INTO usage_ledger (id, tenant_id, user_id, voice_id, backend, kind, characters,"
        f" audio_seconds, cost_micros, request_id, created_at) VALUES ('use_{n}', '{tenant}',"
        f" 'usr', 'voc_g', 'selfhosted', 'speak', 5, 1.0, 75, 'r{n}', CURRENT_TIMESTAMP)"
        for n, tenant in enumerate(["ten_a", "ten_a", "ten_b"])
    ),
]
