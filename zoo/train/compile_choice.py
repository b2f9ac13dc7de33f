"""Whether a run trains the compiled model: ``TrainConfig.compile`` ``"on"``, ``"off"`` or ``"auto"``.

``torch.compile`` is not always faster: on a CPU the FNO's step is mostly GEMMs and transforms
that inductor calls as they are, compiling takes tens of seconds to minutes, and the compiled
model takes the truncated-DFT path of the spectral layers rather than the pruned FFTs
(:mod:`zoo.layers.spectral_conv`). So ``"auto"`` measures: a few forward+backward passes of the
eager and of the compiled model on the run's first batch, timed after their warm-up (the
compiled model's first call is the compilation), and trains the compiled model only when its
step is faster by more than the timing noise and the time it saves over the remaining steps repays
the compilation. Runs shorter than :data:`AUTO_MIN_STEPS`, or whose remaining eager steps add up to
less than :data:`AUTO_MIN_SECONDS`, stay eager without compiling: on a CPU compiling takes minutes
(387 s for the multi-physics operator on this 2-core machine) and would not pay for itself. The measurement leaves the weights,
buffers, gradients and every random state as it found them, so a run's result does not depend on
having measured.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

COMPILE_SETTINGS = ("auto", "on", "off")
AUTO_MIN_STEPS = 500
AUTO_MIN_SECONDS = 3600.0  # projected eager time of the remaining steps below which compiling is not tried
TIMED_STEPS = 3
# The compiled step must beat the eager one by this factor: below it the difference is within
# the run-to-run spread of a shared machine and not worth a compiled model's other costs.
MARGIN = 1.05


@dataclasses.dataclass
class CompileChoice:
    """What was decided and why; ``record()`` is the line the metrics log gets."""

    compiled: bool
    reason: str
    eager_s: float | None = None
    compiled_s: float | None = None
    compile_s: float | None = None

    def record(self, step: int) -> dict[str, Any]:
        timings = {k: v for k, v in (("eager_s_per_step", self.eager_s), ("compiled_s_per_step", self.compiled_s), ("compile_s", self.compile_s)) if v is not None}
        return {"step": step, "split": "compile", "compiled": self.compiled, **timings, "reason": self.reason}

    def message(self) -> str:
        return f"zoo: training {'compiled' if self.compiled else 'eager'} ({self.reason})"


def normalise_setting(value: str | bool) -> str:
    """``"auto"``, ``"on"`` or ``"off"``; booleans (older configs) map to ``"on"``/``"off"``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value not in COMPILE_SETTINGS:
        raise ValueError(f"unknown compile setting {value!r}; choose one of {COMPILE_SETTINGS} (or true/false)")
    return value


def choose_compiled(
    model: nn.Module, step: Callable[[nn.Module], None], *, setting: str, remaining_steps: int, batch_shapes: int = 1
) -> tuple[nn.Module, CompileChoice]:
    """The module to train (``model`` or ``torch.compile(model)``) and the choice that made it.

    ``step(module)`` runs one forward and backward pass on a fixed batch (no optimizer step);
    it is called only with ``setting="auto"`` and at least :data:`AUTO_MIN_STEPS` steps to go.
    ``batch_shapes``: how many different sample shapes the run's batches come in (several grids or
    field counts): ``"auto"`` stays eager for more than one, since each new shape recompiles
    (minutes on a CPU; a multi-grid Darcy run spent 9 of its first 12 minutes so) and the
    measurement on one batch cannot see that cost.
    """
    if setting == "off":
        return model, CompileChoice(False, "compile='off'")
    if setting == "on":
        return torch.compile(model), CompileChoice(True, "compile='on'")
    if batch_shapes > 1:
        return model, CompileChoice(False, f"compile='auto': batches come in {batch_shapes} shapes, and each new "
                                           "shape would recompile")
    if remaining_steps < AUTO_MIN_STEPS:
        return model, CompileChoice(False, f"compile='auto': {remaining_steps} steps < {AUTO_MIN_STEPS}, too few to repay compiling")
    with _untouched(model):
        eager_s = _seconds_per_step(model, step)
        if eager_s * remaining_steps < AUTO_MIN_SECONDS:
            return model, CompileChoice(False, f"compile='auto': {remaining_steps} steps x {eager_s:.3g} s eager is under "
                                               f"{AUTO_MIN_SECONDS:.0f} s, too short to repay compiling", eager_s)
        compiled = torch.compile(model)
        start = time.perf_counter()
        try:
            step(compiled)
        except Exception as error:  # noqa: BLE001 - any failure to compile means: train eager
            return model, CompileChoice(False, f"compile='auto': compiling failed ({type(error).__name__}: {error})")
        compile_s = time.perf_counter() - start
        compiled_s = _seconds_per_step(compiled, step)
    if compiled_s * MARGIN >= eager_s:
        faster, verdict = False, f"not faster by {MARGIN:.2f}x"
    elif (eager_s - compiled_s) * remaining_steps <= compile_s:
        faster, verdict = False, "saves less than compiling cost"
    else:
        faster, verdict = True, "faster"
    reason = (
        f"compile='auto': compiled {compiled_s:.3g} s/step vs eager {eager_s:.3g} s/step, "
        f"{eager_s / compiled_s:.2f}x, {verdict}; compiling took {compile_s:.0f} s"
    )
    return (compiled if faster else model), CompileChoice(faster, reason, eager_s, compiled_s, compile_s)


def _seconds_per_step(module: nn.Module, step: Callable[[nn.Module], None]) -> float:
    step(module)  # warm-up: allocator, DFT matrices, lazy initialisation
    times = []
    for _ in range(TIMED_STEPS):
        start = time.perf_counter()
        step(module)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class _untouched:
    """Restore ``model``'s parameters' gradients, its buffers and the RNG states on exit."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __enter__(self) -> None:
        self.buffers = {name: b.detach().clone() for name, b in self.model.named_buffers()}
        self.grads = {name: p.grad for name, p in self.model.named_parameters()}
        self.rng = (torch.get_rng_state(), random.getstate(), np.random.get_state())
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    def __exit__(self, *exc: object) -> None:
        with torch.no_grad():
            for name, b in self.model.named_buffers():
                b.copy_(self.buffers[name])
        for name, p in self.model.named_parameters():
            p.grad = self.grads[name]
        torch.set_rng_state(self.rng[0])
        random.setstate(self.rng[1])
        np.random.set_state(self.rng[2])
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
