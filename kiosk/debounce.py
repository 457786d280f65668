"""One code held in front of the camera is one scan, not thirty.

``Debouncer.accept(text, now_ms)`` says whether a decoded text is a new scan. The same text seen
again within ``window_ms`` of its *last sighting* is suppressed, and each sighting slides the
window, so a code left in view stays one scan however long it stays; once it has been out of
view for ``window_ms`` it counts again. A different code passes at once. Memory is bounded:
texts not seen for ``window_ms`` are forgotten, and at most ``max_codes`` are remembered (the
least recently seen go first). Pure: the clock is passed in.
"""

from __future__ import annotations

from collections import OrderedDict

DEFAULT_WINDOW_MS = 3000
DEFAULT_MAX_CODES = 256


class Debouncer:
    def __init__(
        self, window_ms: int = DEFAULT_WINDOW_MS, max_codes: int = DEFAULT_MAX_CODES
    ) -> None:
        if window_ms < 0:
            raise ValueError(f"window_ms must be ≥ 0, got {window_ms}")
        if max_codes < 1:
            raise ValueError(f"max_codes must be ≥ 1, got {max_codes}")
        self.window_ms = window_ms
        self.max_codes = max_codes
        self._last_seen: OrderedDict[str, int] = OrderedDict()

    def accept(self, text: str, now_ms: int) -> bool:
        """True if ``text`` is a new scan; records the sighting either way."""
        self._forget_before(now_ms - self.window_ms)
        last = self._last_seen.pop(text, None)
        self._last_seen[text] = now_ms
        if len(self._last_seen) > self.max_codes:
            self._last_seen.popitem(last=False)
        return last is None or now_ms - last >= self.window_ms

    def __len__(self) -> int:
        return len(self._last_seen)

    def _forget_before(self, cutoff_ms: int) -> None:
        # Sightings are kept in the order they happened (re-sighted texts move to the end), so
        # the stale ones are at the front.
        while self._last_seen:
            text, seen = next(iter(self._last_seen.items()))
            if seen > cutoff_ms:
                return
            del self._last_seen[text]
