"""Paths of the app's named routes, for templates and redirects.

Starlette finds a route by name by trying every route of the app in turn; a queue page
links to each of its cases, so that search cost more than the page's queries. The routes
are indexed by name once, and a path is made by the one route that bears the name (once
for all, for a route without parameters)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from fastapi import Request
from starlette.routing import NoMatchFound

ROUTES_BY_NAME = "routes_by_name"  # where the index is kept on the app's state
PLAIN_PATHS = "plain_paths"  # where the paths of routes without parameters are kept


class _Route(Protocol):
    def url_path_for(self, name: str, /, **path_params: Any) -> str: ...


def named_routes(routes: Iterable[Any]) -> Iterator[tuple[str, _Route]]:
    """(name, route) of every route, those of the included routers too (FastAPI keeps an
    included router as one route whose contexts are the routes it includes)."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                name = getattr(context.original_route, "name", None)
                if isinstance(name, str):
                    yield name, context
            continue
        name = getattr(route, "name", None)
        if isinstance(name, str):
            yield name, route


def _routes_by_name(request: Request) -> dict[str, list[_Route]]:
    state = request.app.state
    index: dict[str, list[_Route]] | None = getattr(state, ROUTES_BY_NAME, None)
    if index is None:
        index = {}
        for name, route in named_routes(request.app.router.routes):
            index.setdefault(name, []).append(route)
        setattr(state, ROUTES_BY_NAME, index)
    return index


def _plain_paths(request: Request) -> dict[str, str]:
    """The paths already made of routes without parameters, by name (the same at every
    request: every page links to the same menu)."""
    state = request.app.state
    made: dict[str, str] | None = getattr(state, PLAIN_PATHS, None)
    if made is None:
        made = {}
        setattr(state, PLAIN_PATHS, made)
    return made


def path_for(request: Request, name: str, /, **params: Any) -> str:
    """The path of the route `name` with these parameters (under the app's root path), as
    `request.url_for(name, **params).path` gives it."""
    root = str(request.scope.get("app_root_path", request.scope.get("root_path", "")))
    if params:
        return root.rstrip("/") + _route_path(request, name, params)
    made = _plain_paths(request)
    path = made.get(name)
    if path is None:
        path = made[name] = _route_path(request, name, params)
    return root.rstrip("/") + path


def _route_path(request: Request, name: str, params: dict[str, Any]) -> str:
    """The path of the route `name` with these parameters, under no root path."""
    for route in _routes_by_name(request).get(name, ()):
        try:
            return str(route.url_path_for(name, **params))
        except NoMatchFound:
            continue  # another route of that name takes other parameters
    return _mounted_path(request, name, params)


def _mounted_path(request: Request, name: str, params: dict[str, Any]) -> str:
    """A route inside a mount, or an error: Starlette's own search, its root path taken off."""
    path = request.app.url_path_for(name, **params)
    return str(path)
