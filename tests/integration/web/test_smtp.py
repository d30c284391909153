"""Sending notices through a real SMTP server on 127.0.0.1 (aiosmtpd), one that refuses, and
one that is not there."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from passerelle.db.engine import make_engine
from passerelle.db.session import Database
from passerelle.services import refer
from passerelle.services.public import submit_public_report
from passerelle.settings import Settings
from passerelle.web.app import create_app
from tests.conftest import log_in


class Sink:
    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if self.refuse:
            return "550 5.7.1 Relaying denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(params=["accepts", "refuses"])
def sink(request: pytest.FixtureRequest) -> Iterator[tuple[Sink, int]]:
    handler = Sink(refuse=request.param == "refuses")
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def mail_client(settings: Settings, database: Database, port: int) -> TestClient:
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "unite@passerelle.test"}
    )
    return TestClient(
        create_app(configured, database),
        base_url="https://testserver",
        raise_server_exceptions=False,
    )


def test_sending_a_notice(
    settings: Settings, sqlite_database: Database, sink: tuple[Sink, int], referral_id: str
) -> None:
    handler, port = sink
    with mail_client(settings, sqlite_database, port) as client:
        token = log_in(client, "analyst.a")
        response = client.post(
            f"/referrals/{referral_id}/send", data={"csrf_token": token}, follow_redirects=False
        )
        page = client.get(f"/referrals/{referral_id}").text
    if handler.refuse:
        assert response.status_code == 502
        assert "Relaying denied" in response.text
        assert "Non envoyé\u00a0:" in page and "échec de l’envoi" in page
        assert 'data-testid="send"' in page  # a retry is possible
        with sqlite_database.unit_of_work() as uow:
            actions = [e.action for e in uow.audit.iter_all()]
        assert "referral.send_failed" in actions and "referral.sent" not in actions
        return
    assert response.status_code == 303
    ((recipients, message),) = handler.messages
    assert recipients == ["abuse@exemple.test"]
    assert message["From"] == "unite@passerelle.test"
    assert message["Subject"].startswith("Notification de contenu à caractère terroriste [")
    parts = {part.get_content_type(): part for part in message.walk()}
    assert {"text/plain", "text/html", "application/json"} <= set(parts)
    assert "https://exemple.test/0.jpg" in parts["text/plain"].get_payload(decode=True).decode()
    assert "envoyé" in page


def test_an_unreachable_mail_server_is_reported_and_retry_works(
    settings: Settings, sqlite_database: Database, referral_id: str
) -> None:
    port = free_port()  # nothing listens there
    with mail_client(settings, sqlite_database, port) as client:
        token = log_in(client, "analyst.a")
        failed = client.post(f"/referrals/{referral_id}/send", data={"csrf_token": token})
        assert failed.status_code == 502
        assert f"impossible de joindre le serveur de messagerie 127.0.0.1:{port}" in failed.text
    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with mail_client(settings, sqlite_database, port) as client:
            token = log_in(client, "analyst.a")
            retried = client.post(
                f"/referrals/{referral_id}/send", data={"csrf_token": token}, follow_redirects=False
            )
    finally:
        controller.stop()
    assert retried.status_code == 303 and len(handler.messages) == 1


def test_without_a_mail_server_sending_is_not_offered(client: TestClient, referral_id: str) -> None:
    token = log_in(client, "analyst.a")
    assert 'data-testid="send"' not in client.get(f"/referrals/{referral_id}").text
    response = client.post(f"/referrals/{referral_id}/send", data={"csrf_token": token})
    assert response.status_code == 422 and "PASSERELLE_SMTP_HOST" in response.text
    _ = refer  # the service under test, used through the routes


class SlowSink(Sink):
    """A mail server that keeps the message waiting until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.arrived.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        return await super().handle_DATA(server, session, envelope)


def test_a_slow_mail_server_does_not_hold_up_other_writes(
    settings: Settings, sqlite_database: Database, sqlite_url: str, referral_id: str
) -> None:
    handler = SlowSink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    # Another writer that waits at most one second for the write lock.
    writer = Database(make_engine(sqlite_url, busy_timeout=1.0), secret=sqlite_database.secret)
    responses: list[int] = []
    try:
        with mail_client(settings, sqlite_database, controller.port) as client:
            token = log_in(client, "analyst.a")
            sending = threading.Thread(
                target=lambda: responses.append(
                    client.post(
                        f"/referrals/{referral_id}/send",
                        data={"csrf_token": token},
                        follow_redirects=False,
                    ).status_code
                )
            )
            sending.start()
            try:
                assert handler.arrived.wait(30), "the notice never reached the mail server"
                with writer.unit_of_work(write=True) as uow:  # while the server holds the mail
                    reference = submit_public_report(
                        uow,
                        agency_code="agency-a",
                        url="https://exemple.test/signale",
                        category="",
                        description="",
                        source_hash="h",
                        per_hour=10,
                    )
                    uow.commit()
            finally:
                handler.release.set()
                sending.join(30)
    finally:
        controller.stop()
        writer.dispose()
    assert reference.startswith("PSL-")
    assert responses == [303] and len(handler.messages) == 1
