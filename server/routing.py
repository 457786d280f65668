"""Route matching that skips a whole feature router when none of its paths can match.

FastAPI matches a request by trying every route of every included router in turn, each try a
few microseconds of Python (a regex match plus scope bookkeeping), and the router that matches
is walked twice (once to find it, once to pick its route). With about 110 routes that was
0.1-0.4 ms of every request, most for the routes included last.

:class:`PathFilteredRouter` wraps one feature router. It knows the literal start of every one of
its paths (the text before the first ``{parameter}``), and answers "no match" at once, with one
``str.startswith`` over that tuple, when the request's path starts with none of them; otherwise
FastAPI matches exactly as before, so 404, 405 and slash redirects are unchanged. It is only a
necessary condition: a route's pattern never matches a path that does not begin with its literal
start.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Scope


def literal_starts(routes: Iterable[BaseRoute]) -> tuple[str, ...] | None:
    """The literal start of every route's path (up to its first parameter), or None when a
    route has no path (a host route, say): such a router must always be tried."""
    starts: set[str] = set()
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            return None
        starts.add(path.split("{", 1)[0])
    return tuple(sorted(starts))


class PathFilteredRouter(APIRouter):
    """``router``'s routes, tried only when the request's path could match one of them."""

    def __init__(self, router: APIRouter) -> None:
        super().__init__()
        self.include_router(router)
        self.literal_starts = literal_starts(router.routes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        starts = self.literal_starts
        if starts is not None and not get_route_path(scope).startswith(starts):
            return Match.NONE, {}
        return super().matches(scope)
