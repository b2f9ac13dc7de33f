"""Checkpoints on disk: exact round trips, and every way a bad checkpoint is refused by name."""

import json
import struct

import pytest
import torch
from torch import nn

import zoo
from zoo.hub import CheckpointError, CheckpointNotFoundError, list_pretrained
from zoo.hub.sources import PRETRAINED_PATH_ENV
from zoo.hub.weights import read_header
from zoo.models import AutoregressiveOperator, register_model


def small_fno(seed=0, **overrides):
    torch.manual_seed(seed)
    config = dict(in_channels=2, out_channels=1, modes=(4, 3), width=8, n_layers=2, projection_channels=16)
    return zoo.FNO(**{**config, **overrides})


@register_model
class TiedLinearPair(nn.Module):
    """Two linear maps sharing one weight matrix, as tied embeddings do."""

    def __init__(self, features: int = 3) -> None:
        super().__init__()
        self.encode = nn.Linear(features, features)
        self.decode = nn.Linear(features, features)
        self.decode.weight = self.encode.weight

    def forward(self, x):
        return self.decode(torch.tanh(self.encode(x)))


@register_model
class SlicedPair(nn.Module):
    """Two parameters that are different views of one storage, as packed weights are."""

    def __init__(self, features: int = 3) -> None:
        super().__init__()
        packed = torch.randn(2, features)
        self.scale = nn.Parameter(packed[0])
        self.shift = nn.Parameter(packed[1])

    def forward(self, x):
        return x * self.scale + self.shift


EVALUATION = {
    "test_data": {"description": "held-out samples", "samples": 4},
    "resolutions": [
        {"grid": [16, 16], "zero_shot": False, "samples": 4, "metrics": {"relative_l2": 0.25}},
        {"grid": [32, 32], "zero_shot": True, "samples": 4, "metrics": {"relative_l2": 0.5}},
    ],
}


def test_round_trip_gives_bit_identical_outputs(tmp_path):
    model = small_fno()
    zoo.save_pretrained(model, tmp_path / "fno", metadata={"task": "a -> u", "resolution": [16, 16]})
    loaded = zoo.from_pretrained(tmp_path / "fno")
    x = torch.randn(3, 2, 16, 12)
    assert torch.equal(loaded(x), model(x))
    assert loaded.config == model.config and not loaded.training
    assert sorted(p.name for p in (tmp_path / "fno").iterdir()) == ["README.md", "config.json", "model.safetensors"]


def test_round_trip_of_wrapped_operator_keeps_normalisation_and_rollout(tmp_path):
    torch.manual_seed(1)
    backbone = {"architecture": "FNO", "config": dict(in_channels=3, out_channels=1, modes=[3, 3], width=8, n_layers=1, projection_channels=8)}
    model = AutoregressiveOperator(backbone, history=3, field_mean=[0.5], field_std=[2.0])
    zoo.save_pretrained(model, tmp_path / "ns")
    loaded = zoo.from_pretrained(tmp_path / "ns")
    w = torch.randn(2, 3, 12, 12)
    assert torch.equal(loaded.rollout(w, 4), model.rollout(w, 4))
    assert loaded.field_std.tolist() == [2.0]


def test_tied_tensors_are_stored_once_and_tied_again(tmp_path):
    model = TiedLinearPair()
    zoo.save_pretrained(model, tmp_path / "tied")
    assert set(read_header(tmp_path / "tied" / "model.safetensors")) == {"encode.weight", "encode.bias", "decode.bias"}
    loaded = zoo.from_pretrained(tmp_path / "tied")
    assert loaded.decode.weight is loaded.encode.weight
    x = torch.randn(5, 3)
    assert torch.equal(loaded(x), model(x))


def test_views_of_one_storage_are_stored_as_copies(tmp_path):
    model = SlicedPair()
    assert model.scale.untyped_storage().data_ptr() == model.shift.untyped_storage().data_ptr()
    zoo.save_pretrained(model, tmp_path / "sliced")
    loaded = zoo.from_pretrained(tmp_path / "sliced")
    x = torch.randn(4, 3)
    assert torch.equal(loaded(x), model(x))


def test_save_writes_atomically_and_replaces_stale_evaluation(tmp_path):
    directory = tmp_path / "fno"
    zoo.save_pretrained(small_fno(), directory, evaluation=EVALUATION)
    assert json.loads((directory / "evaluation.json").read_text()) == EVALUATION
    zoo.save_pretrained(small_fno(seed=1), directory)  # new weights: the old results do not describe them
    assert not (directory / "evaluation.json").exists()
    assert not [p for p in directory.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_config_records_architecture_arguments_and_weight_checksum(tmp_path):
    import hashlib

    zoo.save_pretrained(small_fno(), tmp_path / "fno", metadata={"license": "mit"})
    config = json.loads((tmp_path / "fno" / "config.json").read_text())
    assert config["architecture"] == "FNO" and config["config"]["modes"] == [4, 3]
    assert config["metadata"] == {"license": "mit"} and config["zoo_version"] == zoo.__version__
    assert config["weights_sha256"] == hashlib.sha256((tmp_path / "fno" / "model.safetensors").read_bytes()).hexdigest()


def test_save_refuses_unregistered_models_and_unknown_metadata(tmp_path):
    with pytest.raises(TypeError, match="Linear is not a registered architecture"):
        zoo.save_pretrained(nn.Linear(2, 2), tmp_path / "linear")
    with pytest.raises(CheckpointError, match="unknown metadata key 'licence'"):
        zoo.save_pretrained(small_fno(), tmp_path / "fno", metadata={"licence": "mit"})
    with pytest.raises(CheckpointError, match="no entry at a training grid"):
        zoo.save_pretrained(small_fno(), tmp_path / "fno", evaluation={"resolutions": EVALUATION["resolutions"][1:]})


# -- strict loading ---------------------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    return zoo.save_pretrained(small_fno(), tmp_path / "fno")


def rewrite_config(directory, change):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def rewrite_weights(directory, state):
    """Replace the weights with ``state`` and record the new checksum, so only the content is wrong."""
    import safetensors.torch

    from zoo.hub.weights import file_sha256

    safetensors.torch.save_file(state, directory / "model.safetensors")
    rewrite_config(directory, lambda c: c.update(weights_sha256=file_sha256(directory / "model.safetensors")))


def test_missing_tensor_is_named(checkpoint):
    state = small_fno().state_dict()
    del state["lifting.weight"]
    rewrite_weights(checkpoint, state)
    with pytest.raises(CheckpointError, match="missing tensor 'lifting.weight'"):
        zoo.from_pretrained(checkpoint)


def test_unexpected_tensor_is_named(checkpoint):
    rewrite_weights(checkpoint, {**small_fno().state_dict(), "extra.bias": torch.zeros(3)})
    with pytest.raises(CheckpointError, match="unexpected tensor 'extra.bias'"):
        zoo.from_pretrained(checkpoint)


def test_shape_mismatch_is_named(checkpoint):
    state = small_fno(width=9).state_dict()
    rewrite_weights(checkpoint, state)
    with pytest.raises(CheckpointError, match=r"tensor 'lifting.weight' has shape \[9, 4\], the model expects \[8, 4\]"):
        zoo.from_pretrained(checkpoint)


def test_dtype_of_another_kind_is_refused(checkpoint):
    state = {k: v.to(torch.int32) if k == "lifting.bias" else v for k, v in small_fno().state_dict().items()}
    rewrite_weights(checkpoint, state)
    with pytest.raises(CheckpointError, match="tensor 'lifting.bias' has dtype torch.int32"):
        zoo.from_pretrained(checkpoint)


def test_unknown_architecture_is_named(checkpoint):
    rewrite_config(checkpoint, lambda c: c.update(architecture="FNO9000"))
    with pytest.raises(CheckpointError, match="unknown architecture 'FNO9000'; known: .*FNO"):
        zoo.from_pretrained(checkpoint)


def test_unknown_constructor_argument_is_named(checkpoint):
    rewrite_config(checkpoint, lambda c: c["config"].update(dropout=0.1))
    with pytest.raises(CheckpointError, match="config.json: config does not build FNO: unknown config keys for FNO: dropout"):
        zoo.from_pretrained(checkpoint)


def test_unknown_top_level_config_key_is_named(checkpoint):
    rewrite_config(checkpoint, lambda c: c.update(optimizer={}))
    with pytest.raises(CheckpointError, match=r"config.json: unknown keys \['optimizer'\]"):
        zoo.from_pretrained(checkpoint)


def test_config_that_is_not_json_is_named(checkpoint):
    (checkpoint / "config.json").write_text('{"architecture": "FNO",')
    with pytest.raises(CheckpointError, match="config.json: not valid JSON"):
        zoo.from_pretrained(checkpoint)


# -- corrupted weights files ------------------------------------------------------------------------


def test_truncated_weights_are_reported_with_the_file(checkpoint):
    path = checkpoint / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(CheckpointError, match=r"model.safetensors: truncated \(header describes \d+ data bytes, file holds \d+\)"):
        zoo.from_pretrained(checkpoint)


def test_file_shorter_than_its_length_prefix(checkpoint):
    (checkpoint / "model.safetensors").write_bytes(b"\x01\x02\x03")
    with pytest.raises(CheckpointError, match="model.safetensors: truncated"):
        zoo.from_pretrained(checkpoint)


def test_header_length_beyond_the_file_is_refused_before_reading(checkpoint):
    path = checkpoint / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 2**40) + path.read_bytes()[8:])
    with pytest.raises(CheckpointError, match=r"header claims 1099511627776 bytes"):
        zoo.from_pretrained(checkpoint)


def test_header_declaring_a_huge_tensor_is_refused(checkpoint):
    """A header may claim any shape; the declared byte range must match dtype x shape exactly."""
    path = checkpoint / "model.safetensors"
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    header["lifting.weight"]["shape"] = [2**20, 2**20]
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + raw[8 + length :])
    with pytest.raises(CheckpointError, match=r"tensor 'lifting.weight' declares 128 bytes .* needs 4398046511104"):
        zoo.from_pretrained(checkpoint)


def test_flipped_bit_in_tensor_data_is_caught_by_the_checksum(checkpoint):
    path = checkpoint / "model.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"model.safetensors: corrupted or modified \(its sha256 differs"):
        zoo.from_pretrained(checkpoint)


def test_garbage_header_is_reported_as_corrupted(checkpoint):
    path = checkpoint / "model.safetensors"
    raw = bytearray(path.read_bytes())
    raw[8] = ord("[")
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="model.safetensors: corrupted header"):
        zoo.from_pretrained(checkpoint)


def test_directory_without_weights_or_config(tmp_path, checkpoint):
    (checkpoint / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing model.safetensors"):
        zoo.from_pretrained(checkpoint)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="is not a zoo checkpoint: no config.json"):
        zoo.from_pretrained(tmp_path / "empty")


# -- pretrained names and the catalogue -------------------------------------------------------------


def test_pretrained_names_resolve_through_the_search_path(tmp_path, monkeypatch):
    model = small_fno()
    zoo.save_pretrained(model, tmp_path / "store" / "fno-tiny", metadata={"task": "a -> u", "resolution": [16, 16]}, evaluation=EVALUATION)
    monkeypatch.setenv(PRETRAINED_PATH_ENV, str(tmp_path / "store"))
    x = torch.randn(1, 2, 8, 8)
    assert torch.equal(zoo.from_pretrained("fno-tiny")(x), model(x))
    assert "fno-tiny" in list_pretrained() and all(isinstance(name, str) for name in list_pretrained())
    [entry] = [c for c in list_pretrained(details=True) if c.name == "fno-tiny"]
    assert entry.architecture == "FNO" and entry.task == "a -> u" and entry.resolution == (16, 16)
    assert entry.parameters == sum(p.numel() for p in model.parameters())
    assert entry.metrics == {"relative_l2": 0.25}


def test_unknown_name_lists_the_known_ones(tmp_path, monkeypatch):
    zoo.save_pretrained(small_fno(), tmp_path / "store" / "fno-tiny")
    monkeypatch.setenv(PRETRAINED_PATH_ENV, str(tmp_path / "store"))
    with pytest.raises(CheckpointNotFoundError, match="unknown checkpoint 'fno-huge'; known: .*fno-tiny"):
        zoo.from_pretrained("fno-huge")


def test_cli_reports_an_unknown_name_without_a_traceback(tmp_path, monkeypatch, capsys):
    from zoo.cli import main

    zoo.save_pretrained(small_fno(), tmp_path / "store" / "fno-tiny")
    monkeypatch.setenv(PRETRAINED_PATH_ENV, str(tmp_path / "store"))
    assert main(["card", "fno-huge"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("zoo card: unknown checkpoint 'fno-huge'; known: ") and "fno-tiny" in error
    assert error.count("\n") == 1  # one line, no traceback


def test_a_path_object_is_always_a_local_directory(tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint directory '.*runs/fno'"):
        zoo.from_pretrained(tmp_path / "runs" / "fno")


def test_revision_applies_to_hub_repos_only(checkpoint):
    with pytest.raises(ValueError, match="revision='v2' applies to Hub repos only"):
        zoo.from_pretrained(checkpoint, revision="v2")


def test_zoo_list_prints_the_table(tmp_path, monkeypatch, capsys):
    from zoo.cli import main

    zoo.save_pretrained(small_fno(), tmp_path / "store" / "fno-tiny", metadata={"task": "a -> u", "resolution": [16, 16]}, evaluation=EVALUATION)
    monkeypatch.setenv(PRETRAINED_PATH_ENV, str(tmp_path / "store"))
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "ARCHITECTURE", "TASK", "GRID", "PARAMS", "METRICS"]
    row = next(line for line in lines if line.startswith("fno-tiny"))
    params = sum(p.numel() for p in small_fno().parameters())
    assert row.split() == ["fno-tiny", "FNO", "a", "->", "u", "16x16", f"{params:,}", "relative_l2=0.25"]


def test_every_listed_name_loads_and_details_describe_the_same_names():
    # timm and the Hub libraries list names: each one must go straight back into from_pretrained.
    names = list_pretrained()
    assert names == sorted(names) and all(isinstance(name, str) for name in names)
    records = list_pretrained(details=True)
    assert [record.name for record in records] == names
    for name, record in zip(names, records):
        model = zoo.from_pretrained(name)
        assert sum(p.numel() for p in model.parameters()) == record.parameters
        assert type(model).__name__ == record.architecture or record.architecture in type(model).__name__
