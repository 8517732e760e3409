"""Piper VITS in PyTorch: the voice's ONNX graph rewritten as modules, for GPUs and batching.

``weights.load_piper_vits`` builds :class:`~.model.PiperVits` from a voice's ONNX file;
``batching.BatchScheduler`` gathers segments from concurrent callers into padded
batches; ``engine.TorchPiperEngine`` is the ``piper`` engine on top of both
(docs/gpu.md).
"""
