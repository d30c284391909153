"""The Content-Security-Policy lets scripts run from our files only (or with the response's
nonce): an injected inline script does not run. Every page keeps to it: no inline script,
no inline event handler, no `javascript:` address."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import log_in


def script_sources(policy: str) -> list[str]:
    directive = next(d.strip() for d in policy.split(";") if d.strip().startswith("script-src"))
    return directive.split()[1:]


def test_scripts_only_from_our_files_or_with_a_fresh_nonce(client: TestClient) -> None:
    first = client.get("/login").headers["Content-Security-Policy"]
    second = client.get("/login").headers["Content-Security-Policy"]
    sources = script_sources(first)
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
    assert sources[0] == "'self'" and sources[1].startswith("'nonce-")
    assert len(sources) == 2
    assert script_sources(second)[1] != sources[1]  # one nonce per response
    assert "object-src 'none'" in first and "base-uri 'none'" in first


def test_no_page_carries_an_inline_script(client: TestClient, agencies: dict[str, str]) -> None:
    pages = ["/login", "/api/docs"]
    for path in pages:
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
    log_in(client, "admin.a")
    for path in ("/", "/people", "/account", "/audit", "/hosts", "/reports"):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert "javascript:" not in html, path


def test_no_cache_keeps_a_person_s_pages_but_static_files_stay_cacheable(
    client: TestClient, agencies: dict[str, str], case_id: str
) -> None:
    """A shared computer's browser cache or a proxy never keeps a console page (case pages,
    the queue, referrals), an API answer or the login page; styles and scripts stay
    cacheable."""
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    log_in(client, "analyst.a")
    paths = ["/", "/queue", f"/cases/{case_id}", f"/cases/{case_id}/content", "/referrals"]
    paths += ["/banks", "/account", "/hosts", "/reports", "/api/v1/me", "/nulle-part"]
    for path in paths:
        response = client.get(path)
        assert response.headers.get("Cache-Control") == "no-store", path
    refused = client.post("/cases/" + case_id + "/notes", data={}, follow_redirects=False)
    assert refused.status_code == 403  # no form token: an error page, not kept either
    assert refused.headers.get("Cache-Control") == "no-store"
    for path in ("/static/css/passerelle.css", "/static/js/queue.js"):
        response = client.get(path)
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", ""), path
