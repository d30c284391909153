"""A changed PASSERELLE_SECRET_KEY is refused with one clear message (CLI, serve, /readyz);
`passerelle secret rotate` re-seals the keys and re-encrypts preserved content, the audit
chain goes on under a new key, and a rotation run again goes on where it stopped."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passerelle.db.engine import make_engine
from passerelle.db.session import Database
from passerelle.settings import Settings
from passerelle.storage.content_store import EncryptedContentStore, derive_content_key
from passerelle.web.app import create_app
from tests.cli_runner import Cli

OLD = "premier-secret-de-l-instance-0123456789"
NEW = "second-secret-de-l-instance-9876543210-xyz"
WRONG_SECRET = (
    "passerelle: error: PASSERELLE_SECRET_KEY does not open the audit chain's keys (the secret"
    " was changed without `passerelle secret rotate`, or the keys were tampered with)\n"
)


def cli(tmp_path: Path, secret: str) -> Cli:
    return Cli(
        {
            "PASSERELLE_ENV": "test",
            "PASSERELLE_SECRET_KEY": secret,
            "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
        }
    )


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    run = cli(tmp_path, OLD)
    assert run("db", "upgrade").exit_code == 0
    assert (
        run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR").exit_code == 0
    )
    assert run("agency", "key").exit_code == 0  # an agency key sealed under OLD
    store = EncryptedContentStore(tmp_path / "var" / "content", derive_content_key(OLD))
    for n in range(3):
        store.put(f"contenu conservé numéro {n}".encode())
    return tmp_path


def test_another_secret_is_refused_with_one_message(instance: Path) -> None:
    run = cli(instance, NEW)
    for args in (("secret", "check"), ("audit", "verify"), ("serve", "--port", "1")):
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output == WRONG_SECRET
    key = run("agency", "key")
    assert key.exit_code == 1
    assert "PASSERELLE_SECRET_KEY does not open" in key.output
    settings = Settings(env="test", secret_key=NEW, data_dir=instance / "var")
    database = Database(make_engine(settings.effective_database_url), secret=NEW)
    with TestClient(create_app(settings, database)) as client:
        ready = client.get("/readyz")
    database.dispose()
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "secret": "PASSERELLE_SECRET_KEY does not open the keys",
    }
    assert cli(instance, OLD)("secret", "check").exit_code == 0


def test_rotation_reseals_keys_reencrypts_content_and_the_chain_goes_on(instance: Path) -> None:
    new_file = instance / "nouveau-secret.txt"
    new_file.write_text(NEW + "\n", encoding="utf-8")
    rotated = cli(instance, OLD)("secret", "rotate", "--new-secret-file", str(new_file))
    assert rotated.exit_code == 0, rotated.output
    assert rotated.output == (
        "keys: 1 agency keys and the audit keys re-sealed; audit chain goes on with key epoch 2\n"
        "preserved content: 3 re-encrypted, 0 already done, 0 unreadable\n"
        "now set PASSERELLE_SECRET_KEY to the new secret\n"
    )
    assert cli(instance, OLD)("secret", "check").output == WRONG_SECRET
    run = cli(instance, NEW)
    assert run("secret", "check").exit_code == 0
    assert run("agency", "key").exit_code == 0  # the same key, opened with the new secret
    assert run("agency", "add", "unite-qc", "--name", "Q", "--jurisdiction", "CA-QC").exit_code == 0
    verified = run("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith("audit log intact: ")
    store = EncryptedContentStore(instance / "var" / "content", derive_content_key(NEW))
    assert sorted(store.get(sha) for sha in store.stored()) == [
        f"contenu conservé numéro {n}".encode() for n in range(3)
    ]
    settings = Settings(env="test", secret_key=NEW, data_dir=instance / "var")
    database = Database(make_engine(settings.effective_database_url), secret=NEW)
    with database.unit_of_work() as uow:
        actions = [e.action for e in uow.audit.iter_all()]
        epochs = [(e.epoch, e.from_seq) for e in uow.audit.keyring().epochs]
    database.dispose()
    rotation = actions.index("secret.rotated") + 1
    assert epochs == [(1, 1), (2, rotation)]  # the rotation event is the first of epoch 2


def test_an_interrupted_rotation_goes_on_where_it_stopped(instance: Path) -> None:
    new_file = instance / "nouveau-secret.txt"
    new_file.write_text(NEW, encoding="utf-8")
    assert cli(instance, OLD)("secret", "rotate", "--new-secret-file", str(new_file)).exit_code == 0
    # As if stopped before the last file: one item still sealed under the old secret.
    late = EncryptedContentStore(instance / "var" / "content", derive_content_key(OLD))
    sha = late.put(b"contenu pas encore re-chiffre")
    again = cli(instance, OLD)("secret", "rotate", "--new-secret-file", str(new_file))
    assert again.exit_code == 0, again.output
    assert again.output == (
        "keys: already sealed under the new secret (an earlier run)\n"
        "preserved content: 1 re-encrypted, 3 already done, 0 unreadable\n"
        "now set PASSERELLE_SECRET_KEY to the new secret\n"
    )
    store = EncryptedContentStore(instance / "var" / "content", derive_content_key(NEW))
    assert store.get(sha) == b"contenu pas encore re-chiffre"
    assert cli(instance, NEW)("audit", "verify").exit_code == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (" " * 40, "the new secret is too weak: it starts or ends with spaces"),
        (OLD, "the new secret is the current one"),
    ],
)
def test_a_weak_or_unchanged_new_secret_is_refused(
    instance: Path, content: str, message: str
) -> None:
    new_file = instance / "nouveau-secret.txt"
    new_file.write_text(content, encoding="utf-8")
    result = cli(instance, OLD)("secret", "rotate", "--new-secret-file", str(new_file))
    assert result.exit_code == 2
    assert message in result.output
    assert cli(instance, OLD)("secret", "check").exit_code == 0
