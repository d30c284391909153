"""Links in pages come from an index of the routes by name: each path equals what
Starlette's own search through every route gives, under a root path too."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from passerelle.web.paths import named_routes, path_for


def _sample(path: str) -> dict[str, str]:
    """A value for each parameter of a route's path (`{name}` or `{name:path}`)."""
    return {name: f"v-{name}" for name in re.findall(r"{(\w+)(?::\w+)?}", path)}


@pytest.mark.parametrize("root_path", ["", "/passerelle"])
def test_every_named_route_has_the_path_starlette_gives(client: TestClient, root_path: str) -> None:
    app = client.app
    routes = list(named_routes(app.router.routes))  # type: ignore[attr-defined]
    assert len(routes) > 50  # the included routers' routes are there, not only the app's
    request = Request(
        {"type": "http", "app": app, "root_path": root_path, "headers": [], "path": "/"}
    )
    for name, route in routes:
        original = getattr(route, "original_route", route)
        params = _sample(getattr(original, "path", "") or "{path}")
        if name == "static":
            params = {"path": "css/passerelle.css"}
        assert path_for(request, name, **params) == request.url_for(name, **params).path


def test_a_name_with_wrong_parameters_is_refused_as_starlette_refuses_it(
    client: TestClient,
) -> None:
    request = Request({"type": "http", "app": client.app, "headers": [], "path": "/"})
    with pytest.raises(Exception, match="case_detail") as raised:
        path_for(request, "case_detail", wrong="x")
    assert type(raised.value).__name__ == "NoMatchFound"


def test_no_two_routes_share_a_name(client: TestClient) -> None:
    """A link built by name must reach the one page it means: an API route named like a
    console page took the page's links once the API's routes were tried first."""
    names = Counter(name for name, _ in named_routes(client.app.router.routes))  # type: ignore[attr-defined]
    assert [name for name, count in names.items() if count > 1] == []
