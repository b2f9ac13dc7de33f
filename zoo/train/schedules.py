"""Learning-rate schedules as pure functions of the step.

The trainer sets ``lr = base_lr * lr_scale(group) * schedule_factor(step)`` before every step, so a
schedule has no state of its own and a resumed run continues it exactly from the step count.
"""

from __future__ import annotations

import math

SCHEDULES = ("cosine", "step", "constant")


def schedule_factor(
    step: int,
    *,
    schedule: str,
    total_steps: int,
    warmup_steps: int = 0,
    min_factor: float = 0.0,
    step_size: int = 100,
    gamma: float = 0.5,
) -> float:
    """Multiplier of the base learning rate for the update made at ``step`` (counted from 0).

    * warm-up: ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` updates, then
    * ``"cosine"``: from 1 down to ``min_factor`` over the remaining steps (half a cosine),
    * ``"step"``: ``gamma ** (steps_after_warmup // step_size)`` (the FNO paper halves every
      100 epochs), never below ``min_factor``,
    * ``"constant"``: 1.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    after = step - warmup_steps
    if schedule == "cosine":
        span = max(total_steps - warmup_steps, 1)
        progress = min(after / span, 1.0)
        return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "step":
        return max(gamma ** (after // step_size), min_factor)
    return 1.0
