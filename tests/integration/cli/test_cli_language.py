"""The command line speaks the operator's language: French when the environment says fr or
names no language, Québec usage for fr_CA, English when it says en; errors, summaries and
prompts alike, lines for programs unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from passerelle.cli.main import cli

NBSP = "\u00a0"


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    """The CLI on a fresh SQLite database, in the language an environment asks for."""
    base = {
        "PASSERELLE_ENV": "dev",
        "PASSERELLE_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "PASSERELLE_DATA_DIR": str(tmp_path / "var"),
        "LANGUAGE": None,
        "LC_ALL": None,
        "LC_MESSAGES": None,
        "LANG": None,
    }

    def invoke(*args: str, stdin: str | None = None, **language: str) -> Result:
        env = base | language
        return CliRunner().invoke(cli, list(args), env=env, input=stdin, prog_name="passerelle")

    assert invoke("db", "upgrade", LANGUAGE="en").output == "database is up to date\n"
    return invoke


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ({"LANG": "fr_FR.UTF-8"}, "la base de données est à jour\n"),
        ({"LANG": "fr_CA.UTF-8"}, "la base de données est à jour\n"),
        ({"LANG": "C.UTF-8"}, "la base de données est à jour\n"),  # names no language
        ({}, "la base de données est à jour\n"),
        ({"LANG": "en_GB.UTF-8"}, "database is up to date\n"),
        ({"LANG": "fr_FR.UTF-8", "LC_ALL": "en_US.UTF-8"}, "database is up to date\n"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "fr"}, "la base de données est à jour\n"),
    ],
)
def test_a_summary_is_in_the_language_of_the_environment(
    run, language: dict[str, str], said: str
) -> None:  # type: ignore[no-untyped-def]
    result = run("db", "upgrade", **language)
    assert (result.exit_code, result.output) == (0, said)


def test_errors_are_in_french(run) -> None:  # type: ignore[no-untyped-def]
    refused = run("user", "disable", "personne", LANG="fr_FR.UTF-8")
    assert (refused.exit_code, refused.output) == (
        2,
        f"passerelle: erreur{NBSP}: aucune personne nommée 'personne'\n",
    )
    english = run("user", "disable", "personne", LANG="en_GB.UTF-8")
    assert english.output == "passerelle: error: no user named 'personne'\n"
    bad = run("agency", "add", "x", "--name", "X", "--jurisdiction", "US", LANG="fr_FR.UTF-8")
    assert bad.exit_code == 2
    assert bad.output.startswith(f"passerelle: erreur{NBSP}: ")
    assert "unknown" not in bad.output


def test_a_bank_import_reports_in_french_and_lists_stay_as_they_are(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fr = {"LANG": "fr_FR.UTF-8"}
    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR", **fr)
    created = run("bank", "create", "connu", **fr)
    assert created.output.startswith("banque connu créée (")
    listing = tmp_path / "entrees.csv"
    listing.write_text("signal_type,value\nmd5," + "1" * 32 + "\nmd5,zz\n", encoding="utf-8")
    imported = run("bank", "import", "connu", str(listing), **fr)
    assert imported.exit_code == 0, imported.output
    assert "1 ajoutées, 0 déjà présentes, 1 refusées\n" in imported.output
    assert f"passerelle: {listing}: ligne 3{NBSP}: " in imported.output
    listed = run("bank", "list", **fr)
    assert listed.output.startswith("connu\tpositive\t1 entrée\t")
    run("bank", "add", "connu", "--type", "md5", "--value", "2" * 32, **fr)
    assert run("bank", "list", **fr).output.startswith("connu\tpositive\t2 entrées\t")
    english = run("bank", "list", LANG="en_GB.UTF-8")
    assert english.output.startswith("connu\tpositive\t2 entries\t")
    # The line for programs keeps its names and numbers.
    as_json = run("bank", "list", "--json", **fr)
    assert '"entries": 2' in as_json.output
    # What a partner's bank says of itself is said in the operator's language too.
    shared = "Shared by Unité B (unite-b) under agreement"
    run("bank", "create", "partner-unite-b", "--description", shared, **fr)
    lines = run("bank", "list", **fr).output.splitlines()
    assert lines[-1] == "partner-unite-b\tpositive\t0 entrée\t" + (
        "Partagée par Unité B (unite-b) dans le cadre d’un accord"
    )
    lines = run("bank", "list", LANG="en_GB.UTF-8").output.splitlines()
    assert lines[-1] == f"partner-unite-b\tpositive\t0 entries\t{shared}"


def test_a_file_that_gives_no_fingerprint_is_refused_in_french(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    run("bank", "create", "connu")
    photo = tmp_path / "photo.heic"
    photo.write_bytes(b"\x00\x00\x00\x18ftypheicmif1heic" + bytes(64))
    french = run("bank", "add", "connu", "--file", str(photo), LANG="fr_FR.UTF-8")
    assert (french.exit_code, french.output) == (
        2,
        f"passerelle: erreur{NBSP}: {photo}{NBSP}: pas d’empreinte pdq{NBSP}: les images"
        " image/heic ne peuvent pas être décodées ici (HEIF/HEIC)"
        f"{NBSP}; convertissez-la en JPEG ou en PNG pour la comparer\n",
    )
    english = run("bank", "add", "connu", "--file", str(photo), LANG="en_GB.UTF-8")
    assert english.output == (
        f"passerelle: error: {photo}: no pdq signal: image/heic images cannot be decoded here"
        " (HEIF/HEIC); convert it to JPEG or PNG to compare it\n"
    )


def test_a_tag_left_out_of_a_stix_import_is_named_in_french(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    run("bank", "create", "connu")
    indicator = {
        "type": "indicator",
        "id": "indicator--1",
        "pattern": f"[file:hashes.MD5 = '{'e' * 32}']",
        "labels": ["-2+3"],
    }
    bundle = tmp_path / "lot.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [indicator]}))
    args = ("bank", "import", "connu", str(bundle), "--format", "stix")
    french = run(*args, LANG="fr_FR.UTF-8")
    assert french.exit_code == 0, french.output
    assert f"indicator--1{NBSP}: étiquette écartée{NBSP}: étiquette non valable '-2+3'" in (
        french.output
    )
    english = run(*args, LANG="en_GB.UTF-8")
    assert "indicator--1: tag left out: invalid tag '-2+3'" in english.output


def test_the_user_list_says_whether_each_person_is_active_in_french(run) -> None:  # type: ignore[no-untyped-def]
    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    password = "mot de passe assez long\n" * 2
    for name in ("analyste.un", "analyste.deux"):
        added = run(
            "user", "add", name, "--agency", "unite-fr", "--role", "analyst", stdin=password
        )
        assert added.exit_code == 0, added.output
    run("user", "disable", "analyste.deux")
    french = run("user", "list", LANG="fr_FR.UTF-8").output.splitlines()
    assert sorted(line.split("\t")[3] for line in french) == ["actif", "désactivé"]
    english = run("user", "list", LANG="en_US.UTF-8").output.splitlines()
    assert sorted(line.split("\t")[3] for line in english) == ["active", "disabled"]


def test_the_password_prompt_is_in_french(run) -> None:  # type: ignore[no-untyped-def]
    fr = {"LANG": "fr_FR.UTF-8"}
    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR", **fr)
    asked = run(
        "user",
        "add",
        "analyste.un",
        "--agency",
        "unite-fr",
        "--role",
        "analyst",
        stdin="mot de passe assez long\nmot de passe assez long\n",
        **fr,
    )
    assert asked.exit_code == 0, asked.output
    assert asked.output.startswith("Mot de passe")
    assert asked.output.endswith("personne analyste.un créée (analyst)\n")


def test_jobs_say_what_they_did_in_french_and_in_english(run) -> None:  # type: ignore[no-untyped-def]
    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    french = run("jobs", "run", "--once", LANG="fr_FR.UTF-8")
    assert french.exit_code == 0, french.output
    said = {line.split("\t")[0]: line.split("\t")[2] for line in french.output.splitlines()}
    assert said == {
        "recheck": "0 vérifiés, 0 nouvellement hors ligne, 0 injoignables",
        "purge": "0 purgés",
        "fetch_reports": "0 pages récupérées, 0 indisponibles, 0 injoignables",
        "sync": "0 pages reçues, 0 refusés, 0 injoignables, 0 expirées",
    }
    listed = run("jobs", "list", LANG="fr_FR.UTF-8").output.splitlines()
    assert len(listed) == 4
    for line in listed:
        _kind, _, following, last, runs = line.split("\t")
        assert following.startswith("prochain passage 20")
        assert last.startswith("dernier passage 20")
        assert runs == f"passages{NBSP}: 1"
    english = run("jobs", "list", LANG="en_GB.UTF-8").output.splitlines()
    assert [line.split("\t")[4] for line in english] == ["runs 1"] * 4
    assert all(line.split("\t")[2].startswith("next 20") for line in english)


def test_a_job_never_run_says_so(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from passerelle.db.engine import make_engine
    from passerelle.db.session import Database
    from passerelle.services.jobs import schedule_defaults

    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    database = Database(make_engine(f"sqlite:///{tmp_path / 'p.db'}"))
    try:
        with database.unit_of_work(write=True) as uow:
            schedule_defaults(uow)
            uow.commit()
    finally:
        database.dispose()
    french = run("jobs", "list", LANG="fr_FR.UTF-8").output.splitlines()
    assert {line.split("\t")[3] for line in french} == {"jamais lancé"}
    english = run("jobs", "list", LANG="en_GB.UTF-8").output.splitlines()
    assert {line.split("\t")[3] for line in english} == {"never run"}


def test_the_partner_list_speaks_french(run) -> None:  # type: ignore[no-untyped-def]
    for code, jurisdiction in (("unite-fr", "FR"), ("unite-qc", "CA-QC")):
        run("agency", "add", code, "--name", code, "--jurisdiction", jurisdiction)
    key = run("agency", "key", "--agency", "unite-qc").output.strip()
    added = run("partner", "add", "unite-qc", "--agency", "unite-fr", "--key", key, LANG="fr_FR")
    assert added.output == "partenaire unite-qc ajouté (échange par fichier)\n", added.output
    listed = run("partner", "list", "--agency", "unite-fr", LANG="fr_FR.UTF-8")
    assert listed.output == "unite-qc\téchange par fichier\taucun accord\tjamais synchronisé\n"
    quebec = run("partner", "list", "--agency", "unite-fr", LANG="fr_CA.UTF-8")
    assert quebec.output == "unite-qc\téchange par fichier\taucune entente\tjamais synchronisé\n"
    english = run("partner", "list", "--agency", "unite-fr", LANG="en_US.UTF-8")
    assert english.output == "unite-qc\tfile drop\tno agreement\tnever synced\n"


def test_scan_warnings_and_errors_are_in_french(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.shared import shared

    notes = tmp_path / "notes.warc"
    notes.write_text("bonjour", encoding="utf-8")
    spaced = shared("warc", "example-space-in-url.arc")
    french = run("scan", str(notes), str(spaced), LANG="fr_FR.UTF-8")
    assert french.exit_code == 1
    assert (
        f"passerelle: erreur{NBSP}: {notes}{NBSP}: ni un fichier WARC ni un fichier ARC"
        " (aucun en-tête WARC/ ou filedesc://)\n"
    ) in french.output
    assert f"passerelle: avertissement{NBSP}: {spaced}#2{NBSP}: ARC URL invalide '" in french.output
    assert "(espaces encodées)\n" in french.output
    english = run("scan", str(notes), str(spaced), LANG="en_US.UTF-8")
    assert f"passerelle: error: {notes}: not a WARC or ARC file" in english.output
    assert f"passerelle: warning: {spaced}#2: invalid ARC URL '" in english.output
    # Lines for programs keep the English words.
    as_json = run("scan", "--json", str(notes), LANG="fr_FR.UTF-8")
    first = as_json.output.splitlines()[0]
    assert '"error": "not a WARC or ARC file' in first


def test_a_decompression_bomb_in_a_warc_is_named_in_french_and_in_english(
    run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.test_archive_bombs import COMPRESS, ZEROS, http_response, warc_record

    bomb = COMPRESS["br"](ZEROS)
    archive = tmp_path / "bomb.warc"
    archive.write_bytes(warc_record("http://exemple.test/br", http_response(bomb, "br")))
    limit = len(bomb) * 200  # the ratio cap, far below the record cap
    french = run("scan", str(archive), LANG="fr_FR.UTF-8")
    assert (
        f"passerelle: avertissement{NBSP}: {archive}#1{NBSP}: corps impossible à décoder{NBSP}:"
        f" le corps br se décompresse en plus de {limit:,} octets".replace(",", "\u202f")
        + " (refusé comme bombe de décompression)\n"
    ) in french.output
    english = run("scan", str(archive), LANG="en_US.UTF-8")
    assert (
        f"passerelle: warning: {archive}#1: body not decodable: br body decompresses to more"
        f" than {limit:,} bytes (refused as a decompression bomb)\n"
    ) in english.output


def test_a_refused_fetch_names_its_url_once_in_french_and_in_english(run) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.fetch.test_fetcher import Handler
    from tests.servers import serving

    limits = {"PASSERELLE_FETCH_ALLOW": "127.0.0.1/32", "PASSERELLE_FETCH_MAX_BYTES": "100000"}
    with serving(Handler) as base:
        url = f"{base}/bomb/br"
        french = run("scan", url, LANG="fr_FR.UTF-8", **limits)
        english = run("scan", url, LANG="en_US.UTF-8", **limits)
    assert french.exit_code == english.exit_code == 1
    assert (
        f"passerelle: erreur{NBSP}: {url}{NBSP}: le corps br se décompresse en plus de"
        " 100\u202f000 octets (refusé comme bombe de décompression)\n"
    ) in french.output
    assert (
        f"passerelle: error: {url}: br body decompresses to more than 100,000 bytes"
        " (refused as a decompression bomb)\n"
    ) in english.output
    assert french.output.count(url) == english.output.count(url) == 1


def test_the_scan_table_reads_in_the_language_of_the_environment(run) -> None:  # type: ignore[no-untyped-def]
    from tests.shared import shared

    image = str(shared("pdq", "images", "aaa-orig.jpg"))
    french = run("scan", image, LANG="fr_FR.UTF-8")
    assert french.output.splitlines()[0] == (
        "SCORE  TYPE DE MÉDIA             BANQUES               SOURCE"
    )
    # Counts read right for one item as for many: each count follows its label.
    assert f"éléments analysés{NBSP}: 1 (enregistrements d’archive lus{NBSP}: 0)" in french.output
    english = run("scan", image, LANG="en_US.UTF-8")
    assert english.output.splitlines()[0] == (
        "SCORE  MEDIA TYPE                BANKS                 SOURCE"
    )


def test_an_import_names_each_unreadable_candidate_in_french(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa
    import pyarrow.parquet as pq

    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    broken = tmp_path / "candidats.parquet"
    table = pa.table(
        {
            "source": ["crawl.warc.gz#7"],
            "sha256": ["pas-un-sha256"],
            "matches": pa.array([[]], type=pa.list_(pa.struct([("bank", pa.string())]))),
            "reasons_json": ["[]"],
        }
    )
    pq.write_table(table, broken)
    french = run("import", str(broken), "--into-queue", LANG="fr_FR.UTF-8")
    assert french.exit_code == 2
    lines = french.output.splitlines()
    assert lines[0].startswith(
        f"passerelle: avertissement{NBSP}: crawl.warc.gz#7{NBSP}: le sha256 ne compte pas"
    ), lines[0]
    assert lines[-1] == f"passerelle: erreur{NBSP}: aucun candidat lisible dans {broken}"
    english = run("import", str(broken), "--into-queue", LANG="en_US.UTF-8")
    assert english.output.splitlines()[0] == (
        "passerelle: warning: crawl.warc.gz#7: sha256 is not 64 hexadecimal digits: 'pas-un-sha256'"
    )


@pytest.mark.parametrize(
    ("language", "said"),
    [
        (
            "fr_FR.UTF-8",
            f"passerelle: erreur{NBSP}: réglages incorrects{NBSP}: PASSERELLE_PORT doit valoir"
            f" au plus 65535{NBSP}; PASSERELLE_DEFAULT_LOCALE doit valoir l’une de ces"
            f" valeurs{NBSP}: fr, en\n",
        ),
        (
            "en_GB.UTF-8",
            "passerelle: error: bad settings: PASSERELLE_PORT must be at most 65535;"
            " PASSERELLE_DEFAULT_LOCALE must be one of: fr, en\n",
        ),
    ],
)
def test_bad_settings_are_named_in_the_language_of_the_environment(
    run, language: str, said: str
) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "db",
        "upgrade",
        LANG=language,
        PASSERELLE_PORT="99999",
        PASSERELLE_DEFAULT_LOCALE="de",
    )
    assert (result.exit_code, result.output) == (2, said)


def test_the_help_of_a_group_or_command_shows_where_the_settings_are_wrong(run) -> None:  # type: ignore[no-untyped-def]
    wrong = {"LANG": "fr_FR.UTF-8", "PASSERELLE_ENV": "production", "PASSERELLE_PORT": "99999"}
    for args in (("bank", "--help"), ("bank", "import", "--help"), ("jobs", "--help")):
        shown = run(*args, **wrong)
        assert shown.exit_code == 0, (args, shown.output)
        assert shown.output.startswith(f"Utilisation{NBSP}: passerelle {args[0]}"), shown.output
    refused = run("bank", "list", **wrong)
    assert refused.exit_code == 2
    assert refused.output.startswith(f"passerelle: erreur{NBSP}: réglages incorrects{NBSP}:")
    assert "PASSERELLE_PORT" in refused.output


def test_a_weak_secret_is_refused_in_french(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "db",
        "upgrade",
        LANG="fr_FR.UTF-8",
        PASSERELLE_ENV="production",
        PASSERELLE_SECRET_KEY="abcdefghij" * 4,
    )
    assert (result.exit_code, result.output) == (
        2,
        f"passerelle: erreur{NBSP}: réglages incorrects{NBSP}: PASSERELLE_SECRET_KEY est trop"
        f" faible{NBSP}: elle répète une courte séquence\n",
    )


def test_the_help_is_in_french_by_default_and_in_english_when_asked(run) -> None:  # type: ignore[no-untyped-def]
    french = run("--help")
    assert french.exit_code == 0
    assert french.output.startswith("Utilisation\u00a0: passerelle [OPTIONS] COMMAND [ARGS]...\n")
    assert "\nOptions\u00a0:\n" in french.output
    assert "  --help     Affiche ce message et quitte.\n" in french.output
    assert "\nCommandes\u00a0:\n" in french.output
    assert "  user     Les personnes et leurs rôles.\n" in french.output
    english = run("--help", LANG="en_US.UTF-8")
    assert english.output.startswith("Usage: passerelle [OPTIONS] COMMAND [ARGS]...\n")
    assert "\nCommands:\n" in english.output
    assert "  user     People and their roles.\n" in english.output


def test_a_command_help_reads_in_french(run) -> None:  # type: ignore[no-untyped-def]
    french = run("user", "add", "--help", LANG="fr_FR.UTF-8")
    assert french.exit_code == 0
    assert french.output == (
        "Utilisation\u00a0: passerelle user add [OPTIONS] USERNAME\n"
        "\n"
        "  Crée une personne dans une agence.\n"
        "\n"
        "Options\u00a0:\n"
        "  --agency TEXT     Code de l’agence.  [obligatoire]\n"
        "  --role TEXT       analyst, approver, controller, liaison ou admin (répétable).\n"
        "                    [obligatoire]\n"
        "  --name TEXT       Nom affiché dans la console.\n"
        "  --locale TEXT     fr ou en.  [par défaut\u00a0: fr]\n"
        "  --password-stdin  Lit le mot de passe sur l’entrée standard.\n"
        "  --help            Affiche ce message et quitte.\n"
    )
    # The same command object then speaks English to an English environment.
    english = run("user", "add", "--help", LANG="en_GB.UTF-8")
    assert "  --agency TEXT     Agency code.  [required]\n" in english.output
    assert "  --help            Show this message and exit.\n" in english.output
    listed = run("user", "--help", LANG="fr_FR.UTF-8").output
    assert "Commandes\u00a0:\n  add           Crée une personne dans une agence.\n" in listed


@pytest.mark.parametrize(
    ("args", "french", "english"),
    [
        (
            ("bank", "--nope"),
            "Erreur\u00a0: Option inconnue '--nope'.",
            "Error: No such option '--nope'.",
        ),
        (
            ("user", "ad"),
            "Erreur\u00a0: Commande inconnue 'ad'. Vouliez-vous dire 'add'\u00a0?",
            "Error: No such command 'ad'. Did you mean 'add'?",
        ),
        (
            ("scan", "--language", "x", "a"),
            "Erreur\u00a0: Valeur incorrecte pour '--language'\u00a0: 'x' n’est pas l’une des"
            " valeurs 'matched', 'always', 'never'.",
            "Error: Invalid value for '--language': 'x' is not one of 'matched', 'always',"
            " 'never'.",
        ),
        (
            ("jobs", "run", "--every", "1"),
            "Erreur\u00a0: Valeur incorrecte pour '--every'\u00a0: 1 n’est pas dans l’intervalle"
            " 5<=x<=3600.",
            "Error: Invalid value for '--every': 1 is not in the range 5<=x<=3600.",
        ),
        (
            ("bank", "add"),
            "Erreur\u00a0: Argument manquant 'NAME'.",
            "Error: Missing argument 'NAME'.",
        ),
        (
            ("user", "add", "x", "--role"),
            "Erreur\u00a0: L’option '--role' demande un argument.",
            "Error: Option '--role' requires an argument.",
        ),
    ],
)
def test_usage_errors_are_in_the_language_of_the_environment(
    run, args: tuple[str, ...], french: str, english: str
) -> None:  # type: ignore[no-untyped-def]
    said = run(*args, LANG="fr_FR.UTF-8")
    assert said.exit_code == 2
    assert said.output.splitlines()[-1] == french
    if args[-1] != "--role":  # click gives no usage for an option missing its value
        assert said.output.startswith("Utilisation\u00a0: passerelle ")
        assert "Essayez «\u00a0passerelle " in said.output
    assert run(*args, LANG="en_US.UTF-8").output.splitlines()[-1] == english


def test_a_broken_audit_chain_is_named_in_french(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, text

    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    run("agency", "add", "unite-qc", "--name", "Unité QC", "--jurisdiction", "CA-QC")
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))  # as an intruder would
        conn.execute(text("UPDATE audit_events SET actor = 'quelqu-un' WHERE seq = 1"))
    engine.dispose()
    french = run("audit", "verify", LANG="fr_FR.UTF-8")
    assert (french.exit_code, french.output) == (
        1,
        f"passerelle: erreur{NBSP}: journal d’audit rompu à l’événement n°{NBSP}1{NBSP}:"
        f" l’événement n°{NBSP}1 a été modifié (son MAC ne correspond pas)\n",
    )
    english = run("audit", "verify", LANG="en_GB.UTF-8")
    assert english.output == (
        "passerelle: error: audit log broken at event #1: event #1 was altered"
        " (its MAC does not match)\n"
    )


def test_a_bank_file_line_refused_by_the_reader_is_named_in_french(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("agency", "add", "unite-fr", "--name", "Unité", "--jurisdiction", "FR")
    run("bank", "create", "connu")
    listing = tmp_path / "entrees.csv"
    listing.write_text("signal_type,value\nmd5," + "1" * 32 + ",en trop\n", encoding="utf-8")
    french = run("bank", "import", "connu", str(listing), LANG="fr_FR.UTF-8")
    assert french.exit_code == 2
    assert f"passerelle: {listing}: ligne 2{NBSP}: " in french.output
    assert "more fields" not in french.output
    english = run("bank", "import", "connu", str(listing), LANG="en_GB.UTF-8")
    assert f"passerelle: {listing}: line 2: more fields than the header names\n" in english.output
