"""Frame source specs: ``kind[:target][?key=value&...]``, as written in kiosk.toml or on a CLI.

Examples: ``synthetic``, ``synthetic?seed=7&empty_every=4``,
``folder:/srv/frames?loop=true&fps=15``, ``opencv:0``,
``opencv:/dev/video2?width=1280&height=720``, ``picamera2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode

from hardware.frames.base import FrameSourceError

KINDS = ("synthetic", "folder", "opencv", "picamera2")


@dataclass(frozen=True, slots=True)
class FrameSourceSpec:
    """Which source to open: its kind, a target (path, device) and string options."""

    kind: str
    target: str = ""
    options: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        text = self.kind
        if self.target:
            text += ":" + quote(self.target, safe="/:._-~")
        if self.options:
            text += "?" + urlencode(sorted(self.options.items()))
        return text

    def option_int(self, key: str, default: int) -> int:
        raw = self.options.get(key)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise FrameSourceError(f"{self.kind}: option {key}={raw!r} is not an integer") from None

    def option_float(self, key: str, default: float) -> float:
        raw = self.options.get(key)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise FrameSourceError(f"{self.kind}: option {key}={raw!r} is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise FrameSourceError(f"{self.kind}: option {key}={raw!r} is not a finite number")
        return value

    def option_bool(self, key: str, default: bool) -> bool:
        raw = self.options.get(key)
        if raw is None:
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise FrameSourceError(f"{self.kind}: option {key}={raw!r} is not a boolean")


def parse_spec(text: str) -> FrameSourceSpec:
    """Parse ``kind[:target][?options]``; raises ``FrameSourceError`` on anything malformed."""
    if not isinstance(text, str) or not text.strip():
        raise FrameSourceError("empty frame source spec")
    head, _, query = text.strip().partition("?")
    kind, _, target = head.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise FrameSourceError(f"unknown frame source {kind!r}; choose one of {', '.join(KINDS)}")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise FrameSourceError(f"malformed options {query!r} in frame source spec") from exc
    return FrameSourceSpec(kind=kind, target=unquote(target), options=dict(pairs))


def spec_from_mapping(config: Mapping[str, object]) -> FrameSourceSpec:
    """A spec from a TOML table: ``{kind = "folder", target = "/srv/frames", loop = true}``."""
    kind = config.get("kind")
    if not isinstance(kind, str):
        raise FrameSourceError("frame source config needs a 'kind' string")
    target = config.get("target", "")
    options = {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in config.items()
        if key not in {"kind", "target"}
    }
    return parse_spec(str(FrameSourceSpec(kind, str(target), options)))
