"""Reads a Piper voice's ONNX file: its architecture numbers and its weights.

Most learned tensors in the file carry the training checkpoint's names
(``enc_p.encoder.attn_layers.0.conv_q.weight``), which the modules mirror. Three kinds
do not, because the exporter folded them into anonymous constants, so they are found by
their place in the graph instead:

- the phoneme embedding: the data input of the ``Gather`` that reads the ``input`` ids;
- the flow's WaveNet weights (weight norm folded into ``onnx::Conv_NNNN``): the weight
  input of the ``Conv`` node whose bias is the named ``...in_layers.N.bias``;
- the duration predictor's affine scale, folded to ``exp(-logs)``: the other input of
  the ``Mul`` applied right after subtracting ``dp.flows.0.m``.

The mapping refuses to guess: a module parameter with no tensor, a learned tensor no
parameter takes, a shape mismatch, or a convolution whose stride, padding, dilation or
groups differ from the graph's, all raise :class:`WeightMappingError` listing every
problem at once. Integer tensors and single numbers are the graph's own constants
(shapes, axes, ``sqrt(d)``, ``-1e4``) and are not weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from scaispeak.speak.engines.vits_torch.decoder import UpsampleStage
from scaispeak.speak.engines.vits_torch.model import PiperVits, VitsConfig

Array = npt.NDArray[Any]

EMBEDDING = "enc_p.emb.weight"
AFFINE_INV_SCALE = "dp.flows.0.inv_scale"


class WeightMappingError(ValueError):
    """The voice file's tensors and the modules' parameters do not match one to one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n  ".join(problems)
        super().__init__(f"{len(problems)} weight mapping problem(s):\n  {listed}")


class VoiceGraph:
    """One loaded ONNX voice: its initializers by name and indexes over its nodes."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.tensors: dict[str, Array] = {
            t.name: numpy_helper.to_array(t) for t in model.graph.initializer
        }
        self.nodes = list(model.graph.node)

    @classmethod
    def load(cls, path: Path) -> VoiceGraph:
        return cls(onnx.load(str(path)))

    def learned_tensors(self) -> dict[str, Array]:
        """Float tensors with more than one element: the weights, not graph constants."""
        return {
            name: array
            for name, array in self.tensors.items()
            if np.issubdtype(array.dtype, np.floating) and array.size > 1
        }

    def nodes_of(self, *op_types: str) -> list[onnx.NodeProto]:
        return [node for node in self.nodes if node.op_type in op_types]

    def consumers(self, value: str) -> list[onnx.NodeProto]:
        return [node for node in self.nodes if value in node.input]


def parameter_sources(graph: VoiceGraph) -> dict[str, str]:
    """Module parameter name -> initializer name, for every tensor the file holds."""
    sources = {name: name for name in graph.learned_tensors()}
    embedding = _embedding_source(graph)
    if embedding is not None:
        sources.pop(embedding, None)
        sources[EMBEDDING] = embedding
    for node in graph.nodes_of("Conv"):
        if len(node.input) == 3 and node.input[1].startswith("onnx::"):
            # Anonymous folded weight: name it after the bias of the same conv.
            named = node.input[2].removesuffix(".bias") + ".weight"
            sources.pop(node.input[1], None)
            sources[named] = node.input[1]
    inv_scale = _affine_inv_scale_source(graph)
    if inv_scale is not None:
        sources.pop(inv_scale, None)
        sources[AFFINE_INV_SCALE] = inv_scale
    return sources


def _embedding_source(graph: VoiceGraph) -> str | None:
    for node in graph.nodes_of("Gather"):
        if node.input[1] == "input" and node.input[0] in graph.tensors:
            return str(node.input[0])
    return None


def _affine_inv_scale_source(graph: VoiceGraph) -> str | None:
    for sub in graph.consumers("dp.flows.0.m"):
        for mul in graph.consumers(sub.output[0]):
            others = [name for name in mul.input if name != sub.output[0]]
            if mul.op_type == "Mul" and len(others) == 1 and others[0] in graph.tensors:
                return str(others[0])
    return None


def assign_weights(
    module: nn.Module, tensors: Mapping[str, Array], sources: Mapping[str, str]
) -> None:
    """Copy ``tensors`` into ``module`` via ``sources``; raise on anything unmatched."""
    params = dict(module.named_parameters())
    problems = [
        f"missing: no tensor for parameter {name}" for name in params if name not in sources
    ]
    problems += [
        f"unused: tensor {source} would load {name}, which the model does not have"
        for name, source in sources.items()
        if name not in params
    ]
    taken = set(sources.values())
    problems += [
        f"unused: tensor {name} is mapped to nothing" for name in tensors if name not in taken
    ]
    problems += [
        f"missing: tensor {source} for {name} is not in the file"
        for name, source in sources.items()
        if name in params and source not in tensors
    ]
    for name, param in params.items():
        source = sources.get(name)
        if source is None or source not in tensors:
            continue
        if tuple(tensors[source].shape) != tuple(param.shape):
            problems.append(
                f"shape: {name} is {tuple(param.shape)}, tensor {source} is "
                f"{tuple(tensors[source].shape)}"
            )
    if problems:
        raise WeightMappingError(problems)
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(torch.from_numpy(np.array(tensors[sources[name]], dtype=np.float32)))


def check_conv_geometry(module: nn.Module, graph: VoiceGraph, sources: Mapping[str, str]) -> None:
    """Every conv's stride, padding, dilation and groups must equal the graph's."""
    owner_of = {source: name.removesuffix(".weight") for name, source in sources.items()}
    problems: list[str] = []
    for node in graph.nodes_of("Conv", "ConvTranspose"):
        owner = owner_of.get(node.input[1])
        if owner is None:
            problems.append(f"conv node {node.name} reads weight {node.input[1]}, mapped nowhere")
            continue
        conv = module.get_submodule(owner)
        if not isinstance(conv, nn.Conv1d | nn.ConvTranspose1d):
            problems.append(f"{owner} is not a 1-d convolution")
            continue
        expected = _node_geometry(node)
        actual = {
            "strides": list(conv.stride),
            "dilations": list(conv.dilation),
            "group": conv.groups,
            "pads": [int(conv.padding[0])] * 2,
        }
        for key, value in expected.items():
            if actual[key] != value:
                problems.append(f"{owner}: {key} is {actual[key]}, the graph has {value}")
    if problems:
        raise WeightMappingError(problems)


def _node_geometry(node: onnx.NodeProto) -> dict[str, Any]:
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return {
        "strides": list(attributes.get("strides", [1])),
        "dilations": list(attributes.get("dilations", [1])),
        "group": int(attributes.get("group", 1)),
        "pads": list(attributes.get("pads", [0, 0])),
    }


def read_config(graph: VoiceGraph) -> VitsConfig:
    """The architecture, from tensor shapes and conv attributes (no hard-coded sizes)."""
    tensors = graph.tensors
    embedding = _embedding_source(graph)
    if embedding is None:
        raise WeightMappingError(["no Gather reads the phoneme ids: not a Piper voice?"])
    n_symbols, hidden = tensors[embedding].shape
    rel = tensors["enc_p.encoder.attn_layers.0.emb_rel_k"]
    ffn = tensors["enc_p.encoder.ffn_layers.0.conv_1.weight"]
    # The flow's WaveNet weights are anonymous: reach them through their named biases.
    flow_convs = {str(n.input[2]): n for n in graph.nodes_of("Conv") if len(n.input) == 3}
    first_layer = flow_convs["flow.flows.0.enc.in_layers.0.bias"]
    second_layer = flow_convs.get("flow.flows.0.enc.in_layers.1.bias")
    # Layer i has dilation rate**i, so layer 1's dilation is the rate itself.
    dilation_rate = 1 if second_layer is None else _node_geometry(second_layer)["dilations"][0]
    stages, kernels, dilations = _decoder_layout(graph)
    return VitsConfig(
        n_symbols=int(n_symbols),
        hidden=int(hidden),
        latent_channels=int(tensors["enc_p.proj.weight"].shape[0]) // 2,
        filter_channels=int(ffn.shape[0]),
        n_heads=int(hidden) // int(rel.shape[2]),
        n_layers=_count(tensors, "enc_p.encoder.attn_layers.{}.conv_q.weight"),
        kernel_size=int(ffn.shape[2]),
        window=(int(rel.shape[1]) - 1) // 2,
        duration_kernel=int(tensors["dp.convs.convs_sep.0.weight"].shape[2]),
        duration_layers=_count(tensors, "dp.convs.convs_sep.{}.weight"),
        flow_hidden=int(tensors["flow.flows.0.pre.weight"].shape[0]),
        flow_kernel=int(tensors[str(first_layer.input[1])].shape[2]),
        flow_dilation_rate=int(dilation_rate),
        flow_layers=_count(tensors, "flow.flows.0.enc.in_layers.{}.bias"),
        n_flows=_count(tensors, "flow.flows.{}.pre.weight", step=2),
        decoder_channels=int(tensors["dec.conv_pre.weight"].shape[0]),
        stages=stages,
        block_kernels=kernels,
        block_dilations=dilations,
    )


def _count(tensors: Mapping[str, Array], pattern: str, step: int = 1) -> int:
    count = 0
    while pattern.format(count * step) in tensors:
        count += 1
    return count


def _decoder_layout(
    graph: VoiceGraph,
) -> tuple[tuple[UpsampleStage, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Upsampling stages and the residual blocks' kernels and dilations, from the graph."""
    by_weight = {str(n.input[1]): n for n in graph.nodes_of("Conv", "ConvTranspose")}
    stages = []
    for i in range(_count(graph.tensors, "dec.ups.{}.weight")):
        geometry = _node_geometry(by_weight[f"dec.ups.{i}.weight"])
        kernel = int(graph.tensors[f"dec.ups.{i}.weight"].shape[2])
        stages.append(UpsampleStage(kernel, geometry["strides"][0], geometry["pads"][0]))
    blocks = _count(graph.tensors, "dec.resblocks.{}.convs.0.weight")
    per_stage = blocks // max(len(stages), 1)
    kernels, dilations = [], []
    for j in range(per_stage):
        kernels.append(int(graph.tensors[f"dec.resblocks.{j}.convs.0.weight"].shape[2]))
        convs = _count(graph.tensors, f"dec.resblocks.{j}.convs.{{}}.weight")
        dilations.append(
            tuple(
                int(
                    _node_geometry(by_weight[f"dec.resblocks.{j}.convs.{k}.weight"])["dilations"][0]
                )
                for k in range(convs)
            )
        )
    return tuple(stages), tuple(kernels), tuple(dilations)


def load_piper_vits(path: Path) -> PiperVits:
    """Build the model for the voice at ``path`` and load its weights, checking both."""
    graph = VoiceGraph.load(path)
    model = PiperVits(read_config(graph))
    sources = parameter_sources(graph)
    assign_weights(model, graph.learned_tensors(), sources)
    check_conv_geometry(model, graph, sources)
    return model.eval()
