"""The device policy, in one place: which device, which precision, whether a run fits the machine.

* `resolve_device`: "auto" is CUDA when present, else the CPU; a named device must exist.
* `resolve_precision`: "auto" is bf16 on a GPU that supports it (A100, H100, L4), fp16 with loss
  scaling on one that does not (Colab's T4, V100), fp32 on a CPU or MPS; an explicit choice is kept,
  except bf16 on a CPU without native bf16 instructions, which runs fp32 (emulated bf16 is no
  tolerance question but a speed one: ~100x slower than fp32, benchmarks/RESULTS.md).
  `autocast_for` and `grad_scaler` implement it; `describe_precision` says which and why.
* `check_fits`: a run of paper size on a machine without CUDA stops before any work, with an estimate
  of how long it would take, unless `force_cpu=True`.
* `device_name`: the device in words, for results and reports.
"""

from __future__ import annotations

import os
import platform
from contextlib import nullcontext
from pathlib import Path

import torch

from .config import Config
from .errors import UserError
from .scaling import flops_per_token

# A CPU trains these models at about 1e11 FLOP/s (benchmarks/RESULTS.md: the replica shape reached
# ~0.1 TFLOP/s in fp32 on 2 cores). Above this many training FLOPs per model a CPU run takes more
# than a day: it needs a GPU, or the user's explicit force_cpu.
CPU_FLOPS_PER_S = 1e11
CPU_LIMIT_FLOPS = 1e16


class DeviceError(UserError, RuntimeError):
    """The configured device is missing, or the run is far too large for the device it would use."""


def resolve_device(cfg: Config) -> torch.device:
    """The device of `cfg.device`; a CUDA device always with its index (torch.cuda.set_device refuses a
    bare "cuda")."""
    name = cfg.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"config device={cfg.device!r}, but CUDA is not available here; use device=auto or device=cpu"
            )
        index = torch.cuda.current_device() if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"config device={cfg.device!r}, but this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        device = torch.device("cuda", index)
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("config device='mps', but MPS is not available here; use device=auto or device=cpu")
    return device


def bf16_supported(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


# CPU flags of native bf16 arithmetic (x86: AVX512-BF16, AMX). Without one, torch emulates bf16 matmuls.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU computes bf16 natively, from /proc/cpuinfo's flags (False where it is unreadable,
    e.g. off Linux: the safe answer, since a wrong False only costs speed)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return any(f in flags for f in NATIVE_BF16_FLAGS)


def resolve_precision(cfg: Config, device: torch.device, bf16_ok=None) -> str:
    """ "bf16", "fp16" or "fp32": cfg.precision, or for "auto" the best the device supports
    (`bf16_ok` overrides the device query, for tests)."""
    if cfg.precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        return "fp32"
    if cfg.precision != "auto":
        return cfg.precision
    if device.type != "cuda":
        return "fp32"
    return "bf16" if (bf16_supported(device) if bf16_ok is None else bf16_ok) else "fp16"


def describe_precision(cfg: Config, device: torch.device) -> str:
    chosen = resolve_precision(cfg, device)
    if chosen != cfg.precision and cfg.precision != "auto":
        return f"{chosen} (precision={cfg.precision} asked, but this CPU has no native bf16: emulated, far slower)"
    if cfg.precision != "auto":
        return f"{chosen} (set by precision={cfg.precision})"
    why = {
        "bf16": "this GPU supports bf16",
        "fp16": "this GPU has no bf16: fp16 with loss scaling",
        "fp32": f"no autocast on {device.type}",
    }[chosen]
    return f"{chosen} (auto: {why})"


def autocast_for(cfg: Config, device: torch.device):
    """The autocast context of the run's precision (a no-op for fp32)."""
    chosen = resolve_precision(cfg, device)
    if chosen == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if chosen == "bf16" else torch.float16)


def grad_scaler(cfg: Config, device: torch.device) -> torch.amp.GradScaler:
    """Loss scaling, enabled for fp16 only (fp16 gradients underflow without it; bf16 has fp32's range)."""
    return torch.amp.GradScaler(device.type, enabled=resolve_precision(cfg, device) == "fp16")


def training_flops(cfg: Config, vocab_size: int | None = None) -> float:
    """Training FLOPs of one model of `cfg` (steps x tokens per step x FLOPs per token)."""
    return cfg.steps * cfg.batch_size * cfg.seq_len * flops_per_token(cfg, vocab_size or cfg.vocab_size)


def check_fits(cfg: Config, device: torch.device, vocab_size: int | None = None) -> None:
    """Refuse a run of paper size on a device without CUDA (unless force_cpu)."""
    if device.type == "cuda" or cfg.force_cpu:
        return
    flops = training_flops(cfg, vocab_size)
    if flops <= CPU_LIMIT_FLOPS:
        return
    hours = flops / CPU_FLOPS_PER_S / 3600
    raise DeviceError(
        f"this run trains {flops:.2g} FLOPs per model ({cfg.steps:,} steps x {cfg.batch_size} x {cfg.seq_len} "
        f"tokens, d_model {cfg.d_model}, {cfg.n_layers} layers): about {hours / 24:,.0f} days per model on a "
        f"{device.type.upper()} at {CPU_FLOPS_PER_S:.0e} FLOP/s, and no CUDA device is available. Use a GPU "
        f"(Colab: Runtime > Change runtime type > GPU), a smaller profile (smoke, replica), or "
        f"--set force_cpu=true to start anyway"
    )


def device_name(cfg: Config) -> str:
    """The device of the run in words: the GPU's name, or the CPU with its cores and threads."""
    if resolve_device(cfg).type == "cuda":
        return torch.cuda.get_device_name()
    return (
        f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    )
