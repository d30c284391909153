"""Several server processes on one database (`passerelle serve --workers N`, or two servers):
what must hold across them is in the database, so a signed request replayed to another
process is refused; the workers stop with their server, even when it is killed; the access
log is written only when asked for; templates are read again only in dev."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passerelle.db.session import Database
from passerelle.exchange.signing import request_headers
from passerelle.settings import DEFAULT_SECRET_KEY, Settings
from passerelle.web.app import create_app
from tests.factories import make_agency, make_partners
from tests.servers import free_port, running_passerelle

FEED = "/api/v1/exchange/feed?cursor=0"


def _partners(database: Database) -> tuple[Ed25519PrivateKey, str]:
    """Agencies A and B as each other's partner, under the dev secret the servers run with:
    B's private key and A's id."""
    with database.unit_of_work(write=True) as uow:
        ids = {x: make_agency(uow, code=f"agency-{x}").id for x in ("a", "b")}
        keys = make_partners(uow, agency_ids=ids, secret=DEFAULT_SECRET_KEY)
        uow.commit()
    return keys["b"], ids["a"]


def _environment(tmp_path: Path, url: str, **more: str) -> dict[str, str]:
    return {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_DATABASE_URL": url,
        "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
        **more,
    }


def test_a_signed_request_replayed_to_another_server_process_is_refused(
    tmp_path: Path, database: Database, database_url: str
) -> None:
    key_b, agency_a = _partners(database)
    headers = request_headers(
        key_b,
        subscriber="agency-b",
        publisher="agency-a",
        target=FEED,
        now=datetime.now(UTC),
    )
    env = _environment(tmp_path, database_url)
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with (
        running_passerelle(tmp_path / "one", "serve", env=env) as one,
        running_passerelle(tmp_path / "two", "serve", env=env) as two,
    ):
        assert httpx.get(one + FEED, headers=headers).status_code == 200
        replayed = httpx.get(two + FEED, headers=headers)
        assert replayed.status_code == 409
        assert replayed.json()["error"]["code"] == "replayed"
        assert httpx.get(one + FEED, headers=headers).status_code == 409
    with database.unit_of_work() as uow:
        events = uow.audit.list_for_agency(agency_a, limit=50)
    assert [e.action for e in events].count("exchange.replay_refused") == 2
    # No access log unless asked for: the requests above left no line.
    assert "GET /api/v1/exchange/feed" not in (tmp_path / "one" / "server.log").read_text()


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _is_running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail("the server did not start: " + log.read_text())


def test_serve_with_workers_answers_from_each_and_they_stop_when_it_is_killed(
    tmp_path: Path, sqlite_database: Database, sqlite_url: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env.update(_environment(tmp_path, sqlite_url, PASSERELLE_ACCESS_LOG="true"))
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "passerelle.cli.main", "serve", "--port", str(port)]
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    workers: set[int] = set()
    try:
        _wait_ready(url, server, log)
        for _ in range(6):  # each on a new connection
            assert httpx.get(url + "/login").status_code == 200
        # Two workers answer (beside them only multiprocessing's resource tracker).
        workers = {p for p in _children(server.pid) if b"spawn_main" in _cmdline(p)}
        assert len(workers) == 2
        assert '"GET /login HTTP/1.1" 200' in log.read_text()  # PASSERELLE_ACCESS_LOG=true
        os.kill(server.pid, signal.SIGKILL)  # it cannot tell its workers
        server.wait(timeout=30)
        deadline = time.monotonic() + 120
        while any(_is_running(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_is_running(p) for p in workers), "workers serve on without their server"
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/login", timeout=5)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
        for pid in workers:
            if _is_running(pid):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def test_templates_are_read_again_when_changed_only_in_dev(tmp_path: Path) -> None:
    for env, reloads in (("dev", True), ("production", False)):
        settings = Settings(env=env, secret_key=secrets.token_urlsafe(32), data_dir=tmp_path)
        app = create_app(settings)
        assert app.state.passerelle.templates.env.auto_reload is reloads
        app.state.passerelle.database.dispose()
