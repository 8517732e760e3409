"""Reproducible "speakers" made from the stock voices, for cloning tests and the bench.

Real recorded speech is scarce in packages, so a speaker is a stock voice, a mix of
Kokoro style tables, or either one pushed outside the engines' space by a WORLD pitch
shift and formant warp. The same speaker reading different texts gives genuine pairs;
different speakers give impostor pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.engines.cloning.styles import StyleSpace
from scaispeak.speak.engines.cloning.world import WorldAnalysis, WorldConversion
from scaispeak.speak.engines.kokoro import KokoroEngine
from scaispeak.speak.engines.piper import VOICE_KEY, PiperEngine


@dataclass(frozen=True)
class Speaker:
    """A Kokoro mix (``mix``: table -> weight) or Piper's joe (empty ``mix``), shifted."""

    name: str
    mix: dict[str, float] = field(default_factory=dict)
    semitones: float = 0.0
    warp: float = 1.0

    @property
    def in_search_space(self) -> bool:
        """Whether the style search could find this speaker exactly."""
        return bool(self.mix) and self.semitones == 0.0 and self.warp == 1.0

    def say(self, text: str, kokoro: KokoroEngine, piper: PiperEngine | None) -> tuple[Pcm, int]:
        if self.mix:
            space = StyleSpace(kokoro.style_tables())
            weights = np.array([self.mix.get(name, 0.0) for name in space.names], np.float32)
            table = space.mix(weights, np.zeros(256, np.float32))
            pcm, rate = kokoro.synthesize_style(text, table), kokoro.sample_rate
        else:
            if piper is None:
                raise ValueError(f"speaker {self.name} needs the Piper engine")
            pcm, rate = piper.synthesize(text, VOICE_KEY), piper.sample_rate
        if self.semitones == 0.0 and self.warp == 1.0:
            return pcm, rate
        mean, std = WorldAnalysis.of(pcm, rate).log_f0_stats()
        shift = WorldConversion(mean + self.semitones * np.log(2) / 12, std, self.warp)
        return shift.apply(pcm, rate), rate
