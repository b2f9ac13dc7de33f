"""Fine-tuning: clear errors for misfit data, new heads, frozen / slower / low-rank spectral updates,
and instance-wise PINO fine-tuning that improves a prediction with no solver data."""

import pytest
import torch
from torch.utils.data import TensorDataset

from train_problems import cole_hopf_trajectories, heat_pairs, one_thread
from zoo.hub import from_pretrained
from zoo.models import FNO, AutoregressiveOperator, FieldOperator
from zoo.losses import BurgersPhysics, relative_l2
from zoo.models.adapt import DataMismatchError, check_data_fits, spectral_layers, with_channels
from zoo.train import TrainConfig, Trainer, seed_everything
from zoo.train.finetune import SpectralLowRankUpdate, finetune_instance, finetuning_groups


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def tiny_fno(in_channels=1, out_channels=1, modes=(8,), seed=0):
    seed_everything(seed)
    return FNO(in_channels, out_channels, modes=list(modes), width=12, n_layers=2, projection_channels=24)


def config(**overrides):
    return TrainConfig(**{**dict(max_steps=30, batch_size=8, lr=5e-3, progress=False, device="cpu"), **overrides})


# ---- data that does not fit


def test_wrong_channels_are_named_with_the_remedy():
    with pytest.raises(DataMismatchError, match="3 channels but FNO has in_channels=1.*new heads"):
        check_data_fits(tiny_fno(), torch.zeros(2, 3, 32))
    with pytest.raises(DataMismatchError, match="target fields have 2 channels.*out_channels=1"):
        check_data_fits(tiny_fno(), torch.zeros(2, 1, 32), torch.zeros(2, 2, 32))


def test_wrong_dimensionality_is_named():
    with pytest.raises(DataMismatchError, match="1D fields.*data are 2D"):
        check_data_fits(tiny_fno(), torch.zeros(2, 1, 32, 32))


def test_a_grid_coarser_than_the_modes_is_refused():
    model = tiny_fno(modes=(6, 8))
    check_data_fits(model, torch.zeros(1, 1, 12, 14))  # +-6 rows, 8 columns 0..7 of an rfft of 14
    with pytest.raises(DataMismatchError, match="grid 10x14 is coarser.*at least 12x14"):
        check_data_fits(model, torch.zeros(1, 1, 10, 14))
    with pytest.raises(DataMismatchError, match="grid 12x12 is coarser"):
        check_data_fits(model, torch.zeros(1, 1, 12, 12))


# ---- new heads


def test_new_heads_keep_the_fourier_blocks_and_fit_new_channels():
    pretrained = tiny_fno()
    Trainer(pretrained, heat_pairs(32), config(max_steps=20)).fit()
    model = with_channels(pretrained, in_channels=3, out_channels=2)
    assert (model.in_channels, model.out_channels) == (3, 2)
    assert model.config == {**pretrained.config, "in_channels": 3, "out_channels": 2}
    old, new = pretrained.state_dict(), model.state_dict()
    for name in new:
        if name.startswith("blocks."):
            assert torch.equal(new[name], old[name]), name
    assert new["lifting.weight"].shape == (12, 3 + 1)  # 3 fields + 1 grid coordinate
    assert new["projection.fc2.weight"].shape == (2, 24)
    check_data_fits(model, torch.zeros(1, 3, 32), torch.zeros(1, 2, 32))


def test_fine_tuning_with_new_heads_trains():
    pretrained = tiny_fno()
    Trainer(pretrained, heat_pairs(32), config(max_steps=20)).fit()
    # New task: two input channels (u0 and its negative), two outputs (u(t) and u(2t)).
    base = heat_pairs(48, t=1.0, seed=4).tensors
    later = heat_pairs(48, t=2.0, seed=4).tensors[1]
    data = TensorDataset(torch.cat([base[0], -base[0]], 1), torch.cat([base[1], later], 1))
    model = with_channels(pretrained, in_channels=2, out_channels=2)
    history = Trainer(model, data, config(max_steps=60, log_every=10), param_groups=finetuning_groups(model, spectral_lr_scale=0.1)).fit()
    assert history[-1]["loss"] < 0.2 * history[0]["loss"]


def test_new_heads_for_wrapped_operators_reset_statistics_that_no_longer_fit():
    backbone = {"architecture": "FNO", "config": tiny_fno(2, 1).config}
    stepper = AutoregressiveOperator(backbone, history=2, channels=1, field_mean=[0.5], field_std=[2.0])
    wider = with_channels(stepper, out_channels=3)
    assert (wider.history, wider.channels, wider.in_channels) == (2, 3, 6)
    assert wider.config["field_mean"] is None and wider.backbone.out_channels == 3
    operator = FieldOperator(backbone, input_mean=[0.0, 1.0], output_std=[3.0])
    kept = with_channels(operator, in_channels=4)
    assert kept.config["input_mean"] is None and kept.config["output_std"] == [3.0]
    assert kept(torch.randn(1, 4, 16)).shape == (1, 1, 16)


# ---- gentler spectral updates


def spectral_weights(model):
    return [layer.weight.detach().clone() for layer in spectral_layers(model)]


def test_frozen_spectral_weights_do_not_move():
    model = tiny_fno()
    before = spectral_weights(model)
    lifting = model.lifting.weight.detach().clone()
    Trainer(model, heat_pairs(16), config(max_steps=3), param_groups=finetuning_groups(model, spectral="freeze")).fit()
    assert all(torch.equal(a, b) for a, b in zip(before, spectral_weights(model)))
    assert not torch.equal(lifting, model.lifting.weight)


def test_spectral_weights_train_at_the_scaled_rate():
    model = tiny_fno()
    trainer = Trainer(model, heat_pairs(16), config(max_steps=1, schedule="constant"), param_groups=finetuning_groups(model, spectral_lr_scale=0.1))
    trainer.fit()
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([5e-3, 5e-4])
    spectral_ids = {id(layer.weight) for layer in spectral_layers(model)}
    assert {id(p) for p in trainer.optimizer.param_groups[1]["params"]} == spectral_ids


def test_low_rank_update_is_the_product_of_its_factors_per_mode():
    weight = torch.randn(4, 3, 5, 2, dtype=torch.float64)  # 4 modes, 3 -> 5 channels
    update = SpectralLowRankUpdate(weight, rank=2, alpha=4.0).double()
    torch.testing.assert_close(update(weight), weight)  # B starts at zero
    with torch.no_grad():
        update.b.normal_()
    a, b = torch.view_as_complex(update.a), torch.view_as_complex(update.b)
    for mode in range(4):
        expected = torch.view_as_complex(weight[mode]) + 2.0 * a[mode] @ b[mode]  # alpha / rank = 2
        torch.testing.assert_close(torch.view_as_complex(update(weight)[mode].contiguous()), expected)


def test_lora_trains_only_low_rank_factors_and_exports_a_plain_model(tmp_path):
    model = tiny_fno()
    original = spectral_weights(model)
    x = heat_pairs(4).tensors[0]
    with torch.no_grad():
        before = model(x)
    groups = finetuning_groups(model, spectral="lora", lora_rank=2)
    with torch.no_grad():
        torch.testing.assert_close(model(x), before)  # the update starts at zero
    factors = sum(p.numel() for p in groups[1]["params"])
    assert factors == sum(2 * w[..., 0, 0, 0].numel() * (12 + 12) * 2 for w in original)
    Trainer(model, heat_pairs(16), config(max_steps=5, out_dir=str(tmp_path))).fit()
    frozen = [layer.parametrizations.weight.original for layer in spectral_layers(model)]
    assert all(torch.equal(a, b) for a, b in zip(original, frozen))
    assert not all(torch.equal(a, b) for a, b in zip(original, spectral_weights(model)))
    # The exported checkpoint is a plain FNO whose weights are the merged W + A B.
    exported = from_pretrained(tmp_path / "model")
    assert type(exported) is FNO and not any(k.startswith("blocks.0.spectral.parametrizations") for k in exported.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x))


def test_lora_training_resumes_exactly(tmp_path):
    def run(out_dir, steps, resume=False):
        model = tiny_fno()
        groups = finetuning_groups(model, spectral="lora", lora_rank=2)
        settings = config(max_steps=steps, out_dir=str(out_dir), checkpoint_every=3, schedule="constant")
        Trainer(model, heat_pairs(24), settings, param_groups=groups).fit(resume=resume)
        return model

    whole = run(tmp_path / "whole", 6)
    run(tmp_path / "cut", 3)  # stops at step 3; a constant rate makes extending it the same run
    resumed = run(tmp_path / "cut", 6, resume=True)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


# ---- instance-wise (test-time) PINO fine-tuning


def test_instance_finetuning_on_the_burgers_residual_improves_an_out_of_distribution_prediction():
    viscosity, dt = 0.02, 0.01
    train = cole_hopf_trajectories(64, amplitude=0.6, seed=0)
    seed_everything(0)
    model = FNO(1, 20, modes=[12], width=24, n_layers=3, projection_channels=48)
    Trainer(model, TensorDataset(train[:, :1], train[:, 1:]), config(max_steps=200, batch_size=16, lr=3e-3)).fit()
    # A new initial condition, larger than any seen in training; its exact solution is the reference.
    exact = cole_hopf_trajectories(3, amplitude=1.0, seed=5)[2:]
    initial, future = exact[:, :1], exact[:, 1:]
    physics = BurgersPhysics(viscosity=viscosity, dt=dt)
    assert physics(initial, future).item() < 1e-8  # the residual is consistent with the exact solution
    with torch.no_grad():
        error_before = relative_l2(model(initial), future).item()
    tuned, residuals = finetune_instance(model, initial, physics, steps=100, lr=3e-4)
    with torch.no_grad():
        error_after = relative_l2(tuned(initial), future).item()
    assert residuals[-1] < 0.1 * residuals[0]
    assert error_after < 0.5 * error_before  # measured: 0.055 -> 0.020
    with torch.no_grad():  # the pretrained model itself is untouched
        assert relative_l2(model(initial), future).item() == error_before


@pytest.mark.parametrize("spectral", ["freeze", "lora"])
def test_instance_finetuning_can_keep_the_spectral_weights(spectral):
    model = tiny_fno(1, 4)
    initial = torch.sin(2 * torch.pi * torch.arange(32) / 32).view(1, 1, 32)
    tuned, residuals = finetune_instance(model, initial, BurgersPhysics(viscosity=0.02, dt=0.01), steps=3, lr=1e-3,
                                         spectral=spectral)
    assert len(residuals) == 3
    for before, after in zip(spectral_layers(model), spectral_layers(tuned)):
        kept = after.parametrizations.weight.original if spectral == "lora" else after.weight
        assert torch.equal(before.weight, kept)
    assert not torch.equal(model.lifting.weight, tuned.lifting.weight)
