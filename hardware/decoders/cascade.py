"""The ``auto`` decoder: one cheap pass, harder passes only when they can pay off.

Most frames a gate camera delivers either hold an easily read code or hold nothing. Both
must stay cheap: pass 1 (zxing-cpp on the whole grayscale frame) reads the easy ones; a
triage check (edge density, under a millisecond) stops empty frames there. Only a frame
where pass 1 failed *and* triage found a code-like patch goes through the harder passes,
each aimed at that patch, stopping at the first that reads something.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hardware.decoders.base import DecodedCode, Decoder, Image, to_gray, unique_by_text
from hardware.decoders.passes import Pass
from hardware.decoders.triage import TEXTURE_THRESHOLD, Triage, triage


@dataclass(frozen=True, slots=True)
class DecodeTrace:
    """What the cascade did with one frame: the codes, and every pass it ran, in order."""

    codes: list[DecodedCode]
    passes_run: tuple[str, ...]
    triage: Triage | None = field(default=None)


class CascadeDecoder:
    """Runs ``first`` on the frame, then ``passes`` on the triaged region until one reads."""

    name = "auto"

    def __init__(
        self,
        first: Decoder,
        passes: Sequence[Pass],
        texture_threshold: float = TEXTURE_THRESHOLD,
    ) -> None:
        self.first = first
        self.passes = tuple(passes)
        self.texture_threshold = texture_threshold

    @property
    def pass_names(self) -> tuple[str, ...]:
        return (self.first.name, *(p.name for p in self.passes))

    def decode(self, image: Image) -> list[DecodedCode]:
        return self.trace(image).codes

    def trace(self, image: Image) -> DecodeTrace:
        gray = to_gray(image)
        codes = self.first.decode(gray)
        if codes:
            return DecodeTrace(unique_by_text(codes), (self.first.name,))
        verdict = triage(gray, self.texture_threshold)
        ran = [self.first.name]
        if verdict.region is None:
            return DecodeTrace([], tuple(ran), verdict)
        for hard_pass in self.passes:
            ran.append(hard_pass.name)
            codes = hard_pass.run(gray, verdict.region)
            if codes:
                return DecodeTrace(unique_by_text(codes), tuple(ran), verdict)
        return DecodeTrace([], tuple(ran), verdict)
