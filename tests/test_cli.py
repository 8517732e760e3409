"""The `scaispeak` command as a user runs it: real processes, real files."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from scaispeak import local
from scaispeak.app import create_app
from scaispeak.cli import main
from scaispeak.settings import Limits, Settings
from scaispeak.speak.engines.registry import EngineRegistry
from tests.conftest import make_settings
from tests.support.asr import transcribe, word_error_rate
from tests.support.server import (
    ServerThread,
    bootstrap_key,
    free_port,
    printed_key,
    wait_ready,
)

EXE = str(Path(sys.executable).parent / "scaispeak")


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCAISPEAK_DATA_DIR": str(data_dir)}
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=300)


def test_bootstrap_json_prints_tenant_user_and_key(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "admin", "bootstrap", "--json", "--tenant", "acme")
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made["tenant"]["name"] == "acme"
    assert made["user"]["role"] == "superadmin"
    assert made["api_key"]["secret"].startswith("ssk_")


def test_say_in_process_writes_intelligible_audio(tmp_path: Path) -> None:
    out = tmp_path / "hello.flac"
    text = "Hello from the command line."
    done = run_cli(tmp_path, "say", text, "-f", "flac", "-o", str(out))
    assert done.returncode == 0, done.stderr
    pcm, rate = soundfile.read(out, dtype="float32")
    assert word_error_rate(text, transcribe(pcm, rate)) <= 0.1


@pytest.mark.parametrize(("text", "code"), [("🙂", "empty_text"), ("x" * 6000, "text_too_long")])
def test_say_in_process_refusal_is_one_line_not_a_traceback(
    tmp_path: Path, text: str, code: str
) -> None:
    out = tmp_path / "never.wav"
    argv = ["--data-dir", str(tmp_path), "say", text, "-o", str(out)]
    with pytest.raises(SystemExit, match=f"^error: {code}: "):
        main(argv)
    assert not out.exists()


def test_a_second_bootstrap_with_the_same_email_is_one_line_not_a_traceback(
    tmp_path: Path,
) -> None:
    argv = ["--data-dir", str(tmp_path), "admin", "bootstrap", "--tenant", "acme"]
    assert main(argv) == 0
    with pytest.raises(SystemExit, match=r"^error: conflict: .*already exists"):
        main(argv)


async def _role_of_key(data_dir: Path, secret: str) -> str:
    """Who the key authenticates as, read from the data dir's database."""
    from scaispeak.platform.auth.service import authenticate_api_key
    from scaispeak.platform.db import Database

    db = Database(Settings(data_dir=data_dir).resolved_database_url)
    try:
        async with db.sessions() as session:
            return (await authenticate_api_key(session, secret)).role.value
    finally:
        await db.dispose()


def test_issue_key_replaces_a_lost_key_for_an_existing_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert main([*data, "admin", "bootstrap", "--email", "Ops@Example.com"]) == 0
    capsys.readouterr()
    assert main([*data, "admin", "issue-key", "--email", "ops@example.com"]) == 0
    secret = capsys.readouterr().out.split("API key (shown once): ")[1].strip()
    assert asyncio.run(_role_of_key(tmp_path, secret)) == "superadmin"
    with pytest.raises(SystemExit, match=r"^error: not_found: No user with email"):
        main([*data, "admin", "issue-key", "--email", "nobody@example.com"])


async def _same_email_in_another_tenant(data_dir: Path, email: str, name: str = "globex") -> None:
    from scaispeak.platform.auth.models import Role, Tenant, User
    from scaispeak.platform.db import Database

    db = Database(Settings(data_dir=data_dir).resolved_database_url)
    try:
        async with db.sessions() as session:
            tenant = Tenant(name=name)
            session.add(tenant)
            await session.flush()
            session.add(User(tenant_id=tenant.id, email=email, name="", role=Role.member))
            await session.commit()
    finally:
        await db.dispose()


def test_issue_key_asks_for_the_tenant_when_the_email_is_in_several(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert main([*data, "admin", "bootstrap", "--tenant", "acme", "--email", "ops@x.com"]) == 0
    asyncio.run(_same_email_in_another_tenant(tmp_path, "ops@x.com"))
    capsys.readouterr()
    with pytest.raises(SystemExit, match=r"^error: conflict: 2 tenants .*--tenant"):
        main([*data, "admin", "issue-key", "--email", "ops@x.com"])
    assert main([*data, "admin", "issue-key", "--email", "ops@x.com", "--tenant", "acme"]) == 0
    secret = capsys.readouterr().out.split("API key (shown once): ")[1].strip()
    assert asyncio.run(_role_of_key(tmp_path, secret)) == "superadmin"


def test_say_to_a_server_waits_for_the_job_of_a_long_text_and_saves_its_audio(
    tmp_path: Path, engines: EngineRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text over the inline limit comes back 202 with a job: the file gets its audio."""
    settings = make_settings(tmp_path, limits=Limits(inline_max_chars=20))
    key = asyncio.run(bootstrap_key(settings.resolved_database_url))
    monkeypatch.setattr(local, "JOB_POLL_S", 0.1)
    text = "This sentence is longer than the limit allows, so it becomes a job."
    with ServerThread(create_app(settings, engines=engines)) as server:
        data = local.say_remote(server.url, key, text, "voc_piper_en-us-joe-medium", "wav")
    pcm, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    # Piper draws fresh noise: one word of 13 misheard in 4 of 70 renders (measured).
    assert word_error_rate(text, transcribe(pcm, rate)) <= 0.16


def test_serve_bootstraps_on_first_start_and_serves_speak(tmp_path: Path) -> None:
    """The README's first command, minus the install: serve, read the key, speak; and
    the key, sent where it must not be (a WebSocket URL), never reaches the log."""
    port = free_port()
    env = {**os.environ, "SCAISPEAK_DATA_DIR": str(tmp_path)}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [EXE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        key = printed_key(server)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        say = run_cli(
            tmp_path,
            "say",
            "Served over HTTP.",
            "-o",
            str(tmp_path / "a.wav"),
            "--server",
            base,
            "--api-key",
            key,
        )
        assert say.returncode == 0, say.stderr
        listed = run_cli(tmp_path, "voices", "--server", base, "--api-key", key)
        assert (
            "voc_kokoro_jf-alpha" in listed.stdout and "voc_piper_en-us-joe-medium" in listed.stdout
        )
        _open_a_socket_with_the_key_in_its_url(port, key)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    logged = (tmp_path / "server.log").read_text()
    assert "WebSocket /v1/modules/scaispeak/stream/speak?[redacted]" in logged
    assert key.split("_")[-1] not in logged


def _open_a_socket_with_the_key_in_its_url(port: int, key: str) -> None:
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{port}/v1/modules/scaispeak/stream/speak?token={key}"
    try:
        with connect(url, open_timeout=10) as ws:
            ws.recv(timeout=10)  # the refusal, then the close
    except (WebSocketException, TimeoutError):
        pass


@pytest.mark.parametrize("command", [["issue-key"], ["verify-audit"]])
def test_admin_commands_on_a_data_dir_with_no_database_say_so(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "typo"
    with pytest.raises(SystemExit, match=r"^error: no database at .*typo"):
        main(["--data-dir", str(missing), "admin", *command])
    assert not missing.exists()


def test_verify_audit_migrates_a_database_it_finds_unmigrated_and_says_it_is_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "scaispeak.db").touch()  # e.g. from a release before the audit existed
    assert main(["--data-dir", str(tmp_path), "admin", "verify-audit"]) == 0
    assert "no audit entries" in capsys.readouterr().out  # it printed nothing at all


def test_verify_audit_refuses_a_chain_that_does_not_exist(tmp_path: Path) -> None:
    """A misspelt chain has no entries, and was reported "intact" with exit 0."""
    (tmp_path / "scaispeak.db").touch()
    argv = ["--data-dir", str(tmp_path), "admin", "verify-audit", "--chain", "nosuch"]
    with pytest.raises(SystemExit, match=r"^error: no audit chain 'nosuch'"):
        main(argv)
    assert main([*argv[:-1], "global"]) == 0


def test_the_data_dir_may_follow_the_command(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    assert main(["--data-dir", str(elsewhere), "migrate", "--data-dir", str(tmp_path)]) == 0
    assert (tmp_path / "scaispeak.db").exists() and not elsewhere.exists()
    assert main(["admin", "verify-audit", "--data-dir", str(tmp_path)]) == 0


def test_say_to_a_server_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    argv = ["say", "Hello.", "-o", str(tmp_path / "x.wav"), "--server", server, "--api-key", "k"]
    with pytest.raises(SystemExit, match=r"^error: cannot reach the server"):
        main(argv)


def test_say_checks_where_it_writes_before_asking_a_server(tmp_path: Path) -> None:
    """Checked first: the server would synthesize and charge for a file never written."""
    out = tmp_path / "missing" / "x.wav"
    server = f"http://127.0.0.1:{free_port()}"  # never reached
    with pytest.raises(SystemExit, match=r"^error: cannot write .*missing"):
        main(["say", "Hello.", "-o", str(out), "--server", server, "--api-key", "k"])


def test_a_setting_that_does_not_parse_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCAISPEAK_PORT", "abc")
    with pytest.raises(SystemExit, match=r"^error: invalid setting SCAISPEAK_PORT: .*'abc'"):
        main(["--data-dir", str(tmp_path), "migrate"])


@pytest.mark.parametrize(
    "value",
    [
        '{"urls": ["turn:turn.example.com"], "username": "u", "credential": "hunter2"}',
        '[{"urls": ["turn:turn.example.com"], "credential": "hunter2"',  # not JSON at all
        '[{"urls": "turn:turn.example.com", "username": "u", "credential": ["hunter2"]}]',
    ],
)
def test_a_setting_that_does_not_parse_never_echoes_a_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Start-up errors end up in container logs: one line, and no TURN password."""
    monkeypatch.setenv("SCAISPEAK_WEBRTC__ICE_SERVERS", value)
    with pytest.raises(SystemExit) as refused:
        main(["--data-dir", str(tmp_path), "migrate"])
    said = str(refused.value)
    assert said.startswith("error: invalid setting") and "\n" not in said
    assert "hunter2" not in said


def test_a_list_setting_given_as_plain_text_says_json_is_wanted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCAISPEAK_ENGINES__ENABLED", "piper")
    with pytest.raises(SystemExit, match=r"^error: invalid setting: .*take JSON"):
        main(["--data-dir", str(tmp_path), "migrate"])


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@db:5432/x", "postgresql+asyncpg://u@db:5432/x"),
        ("postgres://u@db/x", "postgresql+asyncpg://u@db/x"),
        ("sqlite:////srv/s.db", "sqlite+aiosqlite:////srv/s.db"),
        ("postgresql+asyncpg://u@db/x", "postgresql+asyncpg://u@db/x"),
        ("postgres://u@db/x?sslmode=require", "postgresql+asyncpg://u@db/x?ssl=require"),
    ],
)
def test_a_database_url_gets_its_async_driver(given: str, used: str) -> None:
    """Without it, start-up ended in "No module named 'psycopg'"."""
    assert Settings(database_url=given).resolved_database_url == used


def test_a_managed_hosts_url_with_sslmode_reaches_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str
) -> None:
    """``?sslmode=`` ended in "connect() got an unexpected keyword argument"."""
    plain = postgres_url.replace("postgresql+asyncpg://", "postgres://")
    monkeypatch.setenv("SCAISPEAK_DATABASE_URL", f"{plain}?sslmode=disable")
    assert main(["--data-dir", str(tmp_path), "migrate"]) == 0


@pytest.mark.postgres
def test_migrate_and_bootstrap_on_postgresql_leave_no_data_dir_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_postgres_url: str
) -> None:
    """They made an empty ``./data`` wherever an operator ran them."""
    monkeypatch.setenv("SCAISPEAK_DATABASE_URL", own_postgres_url)
    data_dir = tmp_path / "data"
    assert main(["--data-dir", str(data_dir), "migrate"]) == 0
    assert main(["--data-dir", str(data_dir), "admin", "bootstrap", "--tenant", "acme"]) == 0
    assert not data_dir.exists()


def test_a_database_the_service_does_not_run_on_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCAISPEAK_DATABASE_URL", "mysql://root:hunter2@db/x")
    with pytest.raises(SystemExit) as refused:
        main(["--data-dir", str(tmp_path), "migrate"])
    said = str(refused.value)
    assert said.startswith("error: invalid setting SCAISPEAK_DATABASE_URL: ")
    assert "postgresql+asyncpg" in said and "hunter2" not in said


def test_an_empty_variable_is_an_unset_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty REDIS_URL made some code distributed and the rest embedded."""
    monkeypatch.setenv("SCAISPEAK_REDIS_URL", "")
    monkeypatch.setenv("SCAISPEAK_SECRET_KEY", "")
    settings = Settings()
    assert settings.redis_url is None and settings.secret_key is None


def test_serve_on_a_taken_port_says_so_before_starting(tmp_path: Path) -> None:
    """It used to load everything, print the first-start key, say "ready", then exit."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        argv = ["--data-dir", str(tmp_path), "serve", "--port", str(port)]
        with pytest.raises(SystemExit, match=rf"^error: cannot listen on 127.0.0.1:{port}"):
            main(argv)
    assert not (tmp_path / "scaispeak.db").exists()  # nothing was started


def test_a_database_that_cannot_be_reached_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    monkeypatch.setenv("SCAISPEAK_DATABASE_URL", f"postgresql+asyncpg://x@127.0.0.1:{port}/x")
    with pytest.raises(SystemExit, match=r"^error: cannot use the database: ConnectionRefused"):
        main(["--data-dir", str(tmp_path), "migrate"])


@pytest.mark.parametrize("dependency", ["database", "redis"])
def test_serve_whose_database_or_redis_cannot_be_reached_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dependency: str
) -> None:
    """It was a 10 KB traceback from inside the server's start-up, exit 3."""
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    if dependency == "database":
        monkeypatch.setenv("SCAISPEAK_DATABASE_URL", f"postgresql://x@127.0.0.1:{port}/x")
        said = r"^error: cannot use the database: ConnectionRefused"
    else:
        monkeypatch.setenv("SCAISPEAK_REDIS_URL", f"redis://127.0.0.1:{port}/0")
        monkeypatch.setenv("SCAISPEAK_SECRET_KEY", "k" * 48)
        said = r"^error: cannot use Redis: "
    with pytest.raises(SystemExit, match=said):
        main(["--data-dir", str(tmp_path), "serve", "--port", str(free_port())])


async def test_a_worker_has_the_cloning_engine_serve_has(
    tmp_path: Path, engines: EngineRegistry
) -> None:
    """Jobs with a cloned voice, accepted by the API, failed in every worker."""
    from scaispeak.platform.storage import open_blob_store
    from scaispeak.speak.jobs.worker import worker_engines

    settings = make_settings(tmp_path)
    app = create_app(settings)
    assert "clone" in app.state.speak.engines.names()
    assert set(worker_engines(settings, open_blob_store(settings)).names()) == set(
        app.state.speak.engines.names()
    )


def test_a_worker_whose_redis_cannot_be_reached_says_so_in_one_line_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    monkeypatch.setenv("SCAISPEAK_REDIS_URL", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setenv("SCAISPEAK_SECRET_KEY", "test-signing-key-0123456789abcdef")
    with pytest.raises(SystemExit, match=r"^error: cannot use Redis: ConnectionError: .*connect"):
        main(["--data-dir", str(tmp_path), "worker"])
    assert not (tmp_path / "scaispeak.db").exists()  # refused before migrating


def test_output_cut_short_by_its_reader_is_not_a_database_error(tmp_path: Path) -> None:
    """`scaispeak voices | head` said "cannot use the database: BrokenPipeError"."""
    scaispeak = Path(sys.executable).with_name("scaispeak")
    command = [str(scaispeak), "--data-dir", str(tmp_path), "voices"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as cli:
        assert cli.stdout is not None and cli.stderr is not None
        cli.stdout.close()  # the reader leaves before the listing is written
        said = cli.stderr.read().decode()
        cli.wait(timeout=120)
    assert "database" not in said and "Traceback" not in said, said


def test_issue_key_for_a_tenant_name_two_tenants_share_asks_for_an_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Named by the shared name, it asked to "name the tenant", which it had been."""
    data = ["--data-dir", str(tmp_path)]
    assert main([*data, "admin", "bootstrap", "--tenant", "acme", "--email", "m@x.com"]) == 0
    asyncio.run(_same_email_in_another_tenant(tmp_path, "m@x.com", "acme"))
    with pytest.raises(SystemExit, match=r"^error: conflict: 2 tenants named 'acme' .*by id"):
        main([*data, "admin", "issue-key", "--email", "m@x.com", "--tenant", "acme"])


def test_a_data_dir_the_service_makes_is_its_owners_alone(tmp_path: Path) -> None:
    """It was made world-readable (umask 022): voices' reference recordings, jobs' audio
    and the database, where only the signing key was kept from other local users."""
    data_dir = tmp_path / "deep" / "data"
    made = Settings(data_dir=data_dir).make_data_dir()
    assert made == data_dir and (data_dir.stat().st_mode & 0o777) == 0o700
    chosen = tmp_path / "chosen"
    chosen.mkdir(mode=0o750)
    Settings(data_dir=chosen).make_data_dir()  # an operator's own directory is left as it is
    assert (chosen.stat().st_mode & 0o777) == 0o750 & ~_umask()


def test_the_database_in_an_operators_own_data_dir_is_its_owners_alone(tmp_path: Path) -> None:
    """In a data directory the operator made (mode 755, as docs/deploy.md's
    /srv/scaispeak would be), the database, with job texts and key hashes in it, was
    made 644 (helper-84). The service's commands now make their files 600."""
    chosen = tmp_path / "srv"
    chosen.mkdir(mode=0o755)
    chosen.chmod(0o755)
    made = run_cli(chosen, "admin", "bootstrap", "--email", "ops@example.com")
    assert made.returncode == 0, made.stderr
    assert ((chosen / "scaispeak.db").stat().st_mode & 0o777) == 0o600


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_migrate_on_a_sqlite_url_makes_the_folder_its_file_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An explicit SQLite URL failed with "unable to open database file" (helper-80)."""
    monkeypatch.setenv("SCAISPEAK_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/db/x.db")
    assert main(["--data-dir", str(tmp_path / "data"), "migrate"]) == 0
    assert (tmp_path / "db" / "x.db").is_file()


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        # Both started and then failed: a traceback, and 202s for jobs nothing would run.
        ("SCAISPEAK_REDIS_URL", "http://u:hunter2@127.0.0.1:6379/0", r"scheme 'http'"),
        ("SCAISPEAK_JOBS__CONCURRENCY", "0", r"greater than or equal to 1"),
        # Migrated the tables into whatever database libpq's defaults named.
        ("SCAISPEAK_DATABASE_URL", "postgresql://", r"name the database"),
    ],
)
def test_a_setting_the_service_cannot_work_with_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("SCAISPEAK_SECRET_KEY", "k" * 48)
    with pytest.raises(SystemExit, match=rf"^error: invalid setting {variable}: .*{said}") as e:
        main(["--data-dir", str(tmp_path), "migrate"])
    assert "hunter2" not in str(e.value)


def test_a_database_host_that_does_not_resolve_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 129-line traceback ending in socket.gaierror (helper-84): a pod starting
    before its database's name is in DNS."""
    monkeypatch.setenv("SCAISPEAK_DATABASE_URL", "postgresql://x@nosuchhost.invalid/x")
    with pytest.raises(SystemExit, match=r"^error: a host name in the settings does not resolve"):
        main(["--data-dir", str(tmp_path), "migrate"])


def test_a_data_dir_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(SystemExit, match=r"^error: (FileExists|NotADirectory)Error: .*a-file"):
        main(["--data-dir", str(tmp_path / "a-file" / "data"), "migrate"])


def test_a_database_a_newer_release_migrated_is_one_line(tmp_path: Path) -> None:
    """A release rolled back onto a database its successor migrated: alembic's traceback
    ("Can't locate revision '0099'") named neither release (helper-84)."""
    assert run_cli(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "scaispeak.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    refused = run_cli(tmp_path, "migrate")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: the database's schema is newer than this release")
    assert "Traceback" not in refused.stderr and "'0099'" in refused.stderr
