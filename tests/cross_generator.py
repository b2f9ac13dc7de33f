"""The NS checkpoints against data from an independent generator (tests/data/ns2d_fno_generator).

Shared by tests/test_cross_generator.py and recipes/confidence_intervals.py (which puts the figures
on the cards). Protocol: the FNO paper's, as on the cards: vorticity at t = 1..10 in, t = 11..50
predicted autoregressively, relative L2 of each whole predicted trajectory.
"""

from __future__ import annotations

from pathlib import Path

import torch

from zoo.eval.rollout import rollout_metrics, rollout_predictions

DATA = Path(__file__).resolve().parent / "data" / "ns2d_fno_generator" / "trajectories.safetensors"
HISTORY = 10
VISCOSITY = 1e-3


def generator_trajectories() -> torch.Tensor:
    """The stored vorticity ``(4, 51, 64, 64)`` at t = 0, 1, ..., 50 (float32)."""
    from safetensors.torch import load_file

    return load_file(str(DATA))["vorticity"]


def rollout_errors(model: torch.nn.Module, vorticity: torch.Tensor) -> torch.Tensor:
    """Per-trajectory relative L2 ``(N,)`` of ``model``'s rollout from t = 1..10 over t = 11..50; ``vorticity`` ``(N, 51, n, n)``."""
    truth = vorticity[:, 1:]
    predictions = rollout_predictions(model, truth, history=HISTORY, batch_size=len(truth))
    return rollout_metrics(predictions, truth[:, HISTORY:])["relative_l2"]


def zoo_resolve(vorticity: torch.Tensor) -> torch.Tensor:
    """zoo's solver (float64, its default dt = 0.01 at 64x64) from the same initial fields: ``(N, 51, n, n)`` float32."""
    from zoo.pde.navier_stokes import navier_stokes_2d

    w0 = vorticity[:, 0].double()
    return torch.cat([w0[:, None], navier_stokes_2d(w0, VISCOSITY, 50.0, 1.0)], dim=1).float()


def cross_generator_errors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Per-trajectory figures ``(N,)``: ``solver_difference`` (the generator's t = 11..50 against zoo's
    re-solve), ``on_generator`` and ``on_zoo_resolve`` (the model's rollout error on each)."""
    theirs = generator_trajectories()
    ours = zoo_resolve(theirs)
    return {
        "solver_difference": rollout_metrics(theirs[:, 1 + HISTORY:], ours[:, 1 + HISTORY:])["relative_l2"],
        "on_generator": rollout_errors(model, theirs),
        "on_zoo_resolve": rollout_errors(model, ours),
    }
