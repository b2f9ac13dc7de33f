"""examples/timm_swap_finetune.py, quick version: the three models train from shared initial weights
on disjoint, reproducible train and test streams, and the results record what ran."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch


def test_timm_swap_finetune_quick(example, tmp_path):
    mod = example("timm_swap_finetune")
    results = mod.main(["--quick", "--out", str(tmp_path)])
    models = results["models"]
    assert list(models) == ["attention", "fno", "afno"]
    for name, row in models.items():
        assert len(row["test_rmse"]) == 1 and all(0 < e < 10 and math.isfinite(e) for e in row["test_rmse"])
        assert row["seconds_per_step_median"] > 0 and row["parameters"] > 0
    assert models["fno"]["mixer_kwargs"]["groups"] >= 3  # defaults from the 3-head attention
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["models"]["fno"]["test_rmse"] == models["fno"]["test_rmse"]
    assert all(Path(p).parent == tmp_path and Path(p).stat().st_size > 0 for p in results["plots"])


def test_swapped_models_share_the_attention_models_initial_weights(example):
    mod = example("timm_swap_finetune")
    models = mod.build_models(mod.QUICK, seed=3)
    reference = models["attention"].state_dict()
    for name in ("fno", "afno"):
        state = models[name].state_dict()
        shared = [k for k in state if k in reference]
        assert "patch_embed.proj.weight" in shared and "blocks.1.mlp.fc2.weight" in shared
        assert all(torch.equal(state[k], reference[k]) for k in shared)
        assert not any(k.startswith("blocks.0.attn.qkv") for k in state)


def test_train_and_test_streams_are_disjoint_and_reproducible(example):
    mod = example("timm_swap_finetune")
    train_x, train_y = mod.smoothness_data(8, 16, root_seed=1)
    test_x, test_y = mod.smoothness_data(8, 16, root_seed=2)
    again_x, again_y = mod.smoothness_data(8, 16, root_seed=1)
    assert torch.equal(train_x, again_x) and torch.equal(train_y, again_y)
    assert not set(train_y.tolist()) & set(test_y.tolist())
    assert ((train_y >= 2) & (train_y <= 4)).all()
    torch.testing.assert_close(train_x.std(dim=(1, 2, 3)), torch.ones(8))
    # A smoother field (larger alpha) has less of its energy at high wavenumbers.
    rough, smooth = mod.gaussian_random_field(1, 32, alpha=2.0, tau=7.0, seed=0), mod.gaussian_random_field(1, 32, alpha=4.0, tau=7.0, seed=0)
    high = lambda f: (torch.fft.rfft2(f / f.std()).abs()[..., 8:, 8:] ** 2).sum()  # noqa: E731
    assert high(smooth) < high(rough)
