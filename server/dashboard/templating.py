"""The dashboard's Jinja2 templates, shared by the page and the live stream (which sends each
changed gate-health row rendered by the same ``health_row.html`` the page includes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def render_health_row(view: dict[str, Any], texts: dict[str, str]) -> str:
    """One ``<tr>`` of the health table (autoescaped: gate names and metric names are data)."""
    return templates.get_template("health_row.html").render(g=view, t=texts)
