"""The engines this process runs, by name, built from settings."""

from __future__ import annotations

from collections.abc import Iterator

from scaispeak.settings import EngineSettings, Settings
from scaispeak.speak.engines.base import AsyncEngine, Engine, EngineError, EngineVoice


class EngineRegistry:
    def __init__(self, engines: list[Engine | AsyncEngine]) -> None:
        self._engines = {engine.name: engine for engine in engines}

    def get(self, name: str) -> Engine | AsyncEngine:
        try:
            return self._engines[name]
        except KeyError:
            raise EngineError(f"Engine {name!r} is not running in this process.") from None

    def extended(self, engine: Engine | AsyncEngine) -> EngineRegistry:
        """A new registry with one more engine (the shared one stays as it was)."""
        return EngineRegistry([*self._engines.values(), engine])

    def runs(self, name: str) -> bool:
        """Whether the engine ``name`` runs in this process."""
        return name in self._engines

    def names(self) -> list[str]:
        return list(self._engines)

    def offered_voices(self) -> Iterator[tuple[str, EngineVoice]]:
        for name, engine in self._engines.items():
            for voice in engine.voices():
                yield name, voice

    def warm_all(self) -> None:
        for engine in self._engines.values():
            engine.warm()


def build_engines(settings: Settings) -> EngineRegistry:
    """Instantiate the engines named in ``settings.engines.enabled`` (models load lazily)."""
    engines: list[Engine | AsyncEngine] = []
    threads = settings.engines.onnx_intra_op_threads
    for name in settings.engines.enabled:
        if name == "piper":
            engines.append(_piper_engine(settings))
        elif name == "kokoro":
            from scaispeak.speak.engines.kokoro import KokoroEngine

            engines.append(KokoroEngine(settings.cache_dir / "kokoro", intra_op_threads=threads))
        else:
            raise EngineError(f"Unknown engine {name!r} in SCAISPEAK_ENGINES__ENABLED.")
    return EngineRegistry(engines)


def _piper_engine(settings: Settings) -> Engine:
    """onnxruntime on the CPU; the batched PyTorch engine when the device is CUDA.

    Both are named ``piper`` and speak the same voice, so stored voices work with either.
    """
    device = settings.engine_device or settings.engines.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        return _torch_piper_engine(settings.engines)
    from scaispeak.speak.engines.piper import PiperEngine

    return PiperEngine(intra_op_threads=settings.engines.onnx_intra_op_threads)


def _torch_piper_engine(options: EngineSettings) -> Engine:
    from scaispeak.speak.engines.vits_torch.batching import BatchPolicy
    from scaispeak.speak.engines.vits_torch.engine import TorchPiperEngine

    policy = BatchPolicy(
        max_batch=options.torch_max_batch,
        window_s=options.torch_batch_window_ms / 1000,
        bucket_width=options.torch_bucket_width,
        max_waiting=options.torch_max_waiting,
    )
    return TorchPiperEngine("cuda", policy=policy, decoder_dtype=options.torch_decoder_dtype)
