"""Fitting the WORLD conversion step: which pitch, formant warp and equaliser to apply.

Pitch statistics come straight from the reference; the formant warp is chosen from a
small grid by speaker similarity on the fitting part; the equaliser matches long-term
envelopes and stays only if it raises that similarity. Every candidate reuses one
WORLD analysis of the probe, so the whole step costs a few resyntheses, not syntheses.
The result is kept only if it adds ``min_gain`` on the held-out part.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from scaispeak.speak.engines.base import Pcm
from scaispeak.speak.engines.cloning.speakers import Embedding, SpeakerEncoder, cosine
from scaispeak.speak.engines.cloning.world import WorldAnalysis, WorldConversion, equaliser

WARPS = (0.9, 0.95, 1.0, 1.05, 1.1)
"""Formant warps tried: ±10 % spans most adult speakers of one sex."""


@dataclass(frozen=True)
class ConversionFit:
    """The best conversion on the fitting part, its held-out effect, and the verdict."""

    candidate: WorldConversion
    fit_score: float
    held_out: float
    held_out_without: float
    kept: WorldConversion | None


def fit_conversion(
    encoder: SpeakerEncoder,
    fit: tuple[Pcm, Embedding],
    held_out: tuple[Pcm, Embedding],
    probe: Pcm,
    validated: tuple[Pcm, float],
    rate: int,
    *,
    min_gain: float,
) -> ConversionFit | None:
    """Choose a conversion of ``probe`` toward the reference; None if pitch is unreadable.

    ``fit`` and ``held_out`` are the reference's two parts with their embeddings;
    ``probe`` is the fitted voice reading the fitting sentence; ``validated`` is the
    fitted voice reading the validation sentence and its held-out similarity.
    """
    fit_pcm, fit_target = fit
    reference = WorldAnalysis.of(fit_pcm, rate)
    log_f0_mean, log_f0_std = reference.log_f0_stats()
    probe_analysis = WorldAnalysis.of(probe, rate)
    if log_f0_mean == 0.0 or probe_analysis.log_f0_stats()[0] == 0.0:
        return None

    def score(conversion: WorldConversion) -> float:
        converted = conversion.convert(probe_analysis, probe)
        return cosine(encoder.embed(converted, rate), fit_target)

    scored = [(score(c), c) for c in (WorldConversion(log_f0_mean, log_f0_std, w) for w in WARPS)]
    best_score, best = max(scored, key=lambda pair: pair[0])
    target_envelope = reference.mean_log_envelope()
    eq = equaliser(target_envelope, probe_analysis.warped_log_envelope(best.warp))
    with_eq = replace(best, eq=eq)
    eq_score = score(with_eq)
    if eq_score > best_score:
        best_score, best = eq_score, with_eq
    held_out_audio, without = validated
    converted = best.apply(held_out_audio, rate)
    held = cosine(encoder.embed(converted, rate), held_out[1])
    return ConversionFit(
        candidate=best,
        fit_score=best_score,
        held_out=held,
        held_out_without=without,
        kept=best if held >= without + min_gain else None,
    )
