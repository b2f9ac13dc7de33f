"""Issue #19: nothing lost, nothing let in. Each case starts from a real run folder, checkpoint
or data set and does what a careless or hostile user would: reuse a folder, run two trainers,
edit or corrupt files, upload through symlinks, pass absurd sizes and odd inputs."""

import datetime
import functools
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import pytest
import torch
import yaml

import zoo
from test_registry import SMALL
from train_problems import heat_pairs, one_thread, save_neuralop_pairs
from zoo.cli import main
from zoo.hub import CheckpointError, load_checkpoint, save_pretrained
from zoo.hub.schema import read_config
from zoo.hub.weights import file_sha256
from zoo.models import FNO
from zoo.models.registry import get_model_class
from zoo.train.checkpoint import latest_checkpoint, restore_checkpoint, save_checkpoint

FNO_CONFIG = {"in_channels": 1, "out_channels": 1, "modes": [4], "width": 8, "n_layers": 2, "projection_channels": 8}


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def write_run_config(tmp_path, **trainer):
    data = save_neuralop_pairs(tmp_path / "train.pt", heat_pairs(8, seed=0))
    config = {
        "model": {"architecture": "FNO", "config": FNO_CONFIG},
        "data": {"train": str(data)},
        "trainer": {"max_steps": 3, "batch_size": 4, "device": "cpu", "checkpoint_every": 1, **trainer},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def run(tmp_path):
    """A finished 3-step run with a checkpoint per step (two kept): ``(config file, run folder)``."""
    config = write_run_config(tmp_path)
    assert main(["train", str(config), "--out-dir", str(tmp_path / "run"), "--quiet"]) == 0
    return config, tmp_path / "run"


def snapshot(folder):
    """``{relative path: sha256}`` of every file under ``folder`` but the lock file."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".zoo.lock"
    }


def one_line_error(err, command):
    """The stderr ``err`` of a failed command: exactly one line naming it, and no traceback."""
    lines = [line for line in err.splitlines() if line.strip() and "it/s]" not in line]
    assert len(lines) == 1 and lines[0].startswith(f"zoo {command}: ") and "Traceback" not in err, err
    return lines[0]


# ---- 1. a fresh run never destroys another; checkpoints ordered by recorded step


def test_a_fresh_run_in_a_used_folder_is_refused_and_overwrite_moves_the_old_run_aside(run, capsys):
    config, folder = run
    before = snapshot(folder)
    capsys.readouterr()
    assert main(["train", str(config), "--out-dir", str(folder), "--quiet"]) == 2
    assert "already holds a run; continue it with --resume, replace it with --overwrite" in one_line_error(capsys.readouterr().err, "train")
    assert snapshot(folder) == before

    assert main(["train", str(config), "--out-dir", str(folder), "--quiet", "--max-steps", "2", "--overwrite"]) == 0
    (aside,) = folder.parent.glob("run.replaced-*")
    assert snapshot(aside) == before  # every file of the first run, byte for byte
    assert latest_checkpoint(folder / "checkpoints").name == "step_00000002"
    assert [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()] == [2]


def test_resume_continues_a_used_folder(run):
    config, folder = run
    assert main(["train", str(config), "--out-dir", str(folder), "--quiet", "--resume", "--max-steps", "4"]) == 0
    assert latest_checkpoint(folder / "checkpoints").name == "step_00000004"


def test_checkpoints_are_pruned_by_their_recorded_step_not_their_names(run):
    """Names are zero-padded to 8 digits: step_100000000 sorts before step_99999999 as a string."""
    _, folder = run
    checkpoints = folder / "checkpoints"
    late = checkpoints / "step_99999999"
    shutil.copytree(checkpoints / "step_00000003", late)
    state = json.loads((late / "trainer_state.json").read_text())
    (late / "trainer_state.json").write_text(json.dumps({**state, "step": 99999999}))
    model = FNO(**FNO_CONFIG)
    optimizer = torch.optim.AdamW(model.parameters())
    written = save_checkpoint(checkpoints, step=100000000, model=model, optimizer=optimizer, trainer_state={}, keep=1)
    assert sorted(p.name for p in checkpoints.glob("step_*")) == [written.name] == ["step_100000000"]
    assert latest_checkpoint(checkpoints) == written


# ---- 2. one process per run folder


HOLD_LOCK = """
import sys, time
from zoo.files import locked_folder
with locked_folder(sys.argv[1], purpose="test holder"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_second_trainer_cannot_share_a_run_folder_and_a_killed_holder_frees_it(run, capsys):
    config, folder = run
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(folder)
        capsys.readouterr()
        assert main(["train", str(config), "--out-dir", str(folder), "--quiet", "--resume", "--max-steps", "5"]) == 2
        message = one_line_error(capsys.readouterr().err, "train")
        assert f"{folder} is in use: test holder by pid {holder.pid} on " in message and "started 20" in message
        assert snapshot(folder) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert main(["train", str(config), "--out-dir", str(folder), "--quiet", "--resume", "--max-steps", "4"]) == 0


# ---- 9. leftovers of interrupted writes


def test_stale_temporaries_are_removed_when_a_run_starts_and_nothing_else(run):
    config, folder = run
    old = time.time() - 3600
    stale_file = folder / ".metrics.csv.k3j_x9a2.tmp"
    stale_dir = folder / "checkpoints" / ".step_00000004.a8b7c6d5.tmp"
    kept = [folder / ".notes.tmp", folder / "notes.tmp", folder / "checkpoints" / ".step_00000005.abcdefgh.tmp"]
    kept.append(folder / "my-data" / ".field.abcdefgh.tmp")  # zoo's name, but not in a folder zoo writes
    kept[-1].parent.mkdir()
    kept[-1].write_text("mine")
    stale_file.write_text("half a csv")
    (stale_dir / "step_00000004").mkdir(parents=True)
    for path in (stale_file, stale_dir, kept[-1]):
        os.utime(path, (old, old))
    for path in kept[:2]:
        path.write_text("mine")
    kept[2].write_text("newer than the lock: someone else's")
    future = time.time() + 3600
    os.utime(kept[2], (future, future))
    assert main(["train", str(config), "--out-dir", str(folder), "--quiet", "--resume", "--max-steps", "4"]) == 0
    assert not stale_file.exists() and not stale_dir.exists()
    assert all(path.exists() for path in kept)


def test_stale_temporaries_are_removed_when_a_data_job_resumes(tmp_path):
    from zoo.data.equations import navier_stokes_recipe
    from zoo.data.generate import generate

    recipe = navier_stokes_recipe(viscosity=1e-3, resolution=16, steps=1, record_every=0.5)
    generate(tmp_path, recipe, samples=1, seed=0, shard_size=1, progress=False)
    stale = tmp_path / ".shard-00001.safetensors.q1w2e3r4.tmp"
    stale.write_bytes(b"half a shard")
    os.utime(stale, (time.time() - 60, time.time() - 60))
    generate(tmp_path, recipe, samples=2, seed=0, shard_size=1, progress=False)
    assert not stale.exists() and (tmp_path / "shard-00001.safetensors").is_file()


# ---- 3. sizes in config.json are checked before anything is allocated


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    return save_pretrained(FNO(1, 1, [4, 4], width=8, n_layers=2, projection_channels=8), tmp_path / "fno")


def edit_config(directory, **changes):
    config = json.loads((directory / "config.json").read_text())
    config["config"].update(changes)
    (directory / "config.json").write_text(json.dumps(config))


@pytest.fixture
def only_meta_construction(monkeypatch):
    """Fail the test if an FNO is built anywhere but on the meta device (which allocates nothing)."""
    constructor = FNO.__init__

    @functools.wraps(constructor)
    def guarded(self, *args, **kwargs):
        if torch.get_default_device().type != "meta":
            pytest.fail("an FNO was allocated before its config was checked against the weights")
        constructor(self, *args, **kwargs)

    monkeypatch.setattr(FNO, "__init__", guarded)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_layers": 10_000_000}, "'n_layers' is 10000000, outside the supported range 0..1024"),
        ({"width": 10**9}, "'width' is 1000000000, outside the supported range"),
        ({"modes": [4, 10**7]}, "'modes' is 10000000, outside the supported range"),
        ({"n_layers": 1.5}, "'n_layers' must be an integer"),
    ],
)
def test_absurd_sizes_fail_before_the_model_is_built(checkpoint, only_meta_construction, changes, message):
    edit_config(checkpoint, **changes)
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(checkpoint)
    assert "config.json: config does not build FNO" in str(error.value)


def test_sizes_within_bounds_that_the_weights_do_not_hold_fail_before_allocation(checkpoint, only_meta_construction):
    # 4096 wide, 64 layers and 64x64 modes: ~10^13 values (70 TB); only the meta device may build it.
    edit_config(checkpoint, width=4096, n_layers=64, modes=[64, 64])
    with pytest.raises(CheckpointError, match=r"model.safetensors does not match FNO \(the config implies [\d,]{18,} values, the file holds \d,\d{3}\)"):
        load_checkpoint(checkpoint)


def test_nested_backbone_sizes_are_checked_too():
    backbone = {"architecture": "FNO", "config": {**FNO_CONFIG, "n_layers": 10**6}}
    with pytest.raises(ValueError, match="FNO config 'n_layers' is 1000000"):
        zoo.create_model("FieldOperator", backbone=backbone)


# ---- 4. checksums are mandatory


def test_weights_without_a_checksum_are_refused_unless_trusted_explicitly(checkpoint):
    config = json.loads((checkpoint / "config.json").read_text())
    del config["weights_sha256"]
    (checkpoint / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"fno/model.safetensors: no sha256 recorded for it in config.json.*trust_unverified=True"):
        zoo.from_pretrained(checkpoint)
    reference = load_checkpoint(checkpoint, trust_unverified=True)
    assert isinstance(zoo.from_pretrained(checkpoint, trust_unverified=True), FNO)
    # trusting a missing checksum never excuses a wrong one
    config["weights_sha256"] = "0" * 64
    (checkpoint / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="corrupted or modified"):
        load_checkpoint(checkpoint, trust_unverified=True)
    assert reference.config == read_config(checkpoint)["config"]


@pytest.mark.parametrize("name", ["optimizer.pt", "rng.pt", "model.safetensors"])
def test_a_modified_training_checkpoint_file_is_refused_on_resume(run, capsys, name):
    config, folder = run
    path = folder / "checkpoints" / "step_00000003" / name
    raw = bytearray(path.read_bytes())
    raw[-30] ^= 0x01
    path.write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(["train", str(config), "--out-dir", str(folder), "--quiet", "--resume", "--max-steps", "4"]) == 2
    assert f"step_00000003/{name}: corrupted or modified" in one_line_error(capsys.readouterr().err, "train")


def test_a_training_checkpoint_without_checksums_needs_trust(run):
    _, folder = run
    path = folder / "checkpoints" / "step_00000003"
    state = json.loads((path / "trainer_state.json").read_text())
    del state["sha256"]
    (path / "trainer_state.json").write_text(json.dumps(state))
    model = FNO(**FNO_CONFIG)
    optimizer = torch.optim.AdamW(model.parameters())
    with pytest.raises(CheckpointError, match=r"optimizer.pt: no sha256 recorded for it in trainer_state.json"):
        restore_checkpoint(path, model=model, optimizer=optimizer)
    assert restore_checkpoint(path, model=model, optimizer=optimizer, trust_unverified=True)["step"] == 3


def test_every_bundled_checkpoint_carries_a_matching_checksum():
    assert zoo.list_pretrained()
    for directory in zoo.hub.sources.pretrained_directories().values():
        assert read_config(directory)["weights_sha256"] == file_sha256(directory / "model.safetensors")


# ---- 5. uploads take the checkpoint's files and nothing else


@pytest.fixture
def hub(tmp_path, monkeypatch):
    from hub_server import LocalHub, point_client_at

    with LocalHub(token="hf_test") as server:
        point_client_at(server, monkeypatch, tmp_path / "hf-cache")
        yield server


def test_push_uploads_only_the_format_files_and_never_follows_symlinks(hub, checkpoint, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("private key")
    (checkpoint / "notes.txt").symlink_to(secret)
    (checkpoint / "plots").mkdir()
    (checkpoint / "plots" / "error.png").write_bytes(b"\x89PNG fake")
    (checkpoint / "plots" / "leak.png").symlink_to(secret)
    for stray in ("model.safetensors~", ".config.json.k3j_x9a2.tmp", "README.md.bak", "draft.txt"):
        (checkpoint / stray).write_text("stray")
    with pytest.raises(CheckpointError, match=r"plots/leak.png is a symbolic link"):
        zoo.push_to_hub(checkpoint, "physics/fno", token="hf_test")
    assert "physics/fno" not in hub.repos  # refused before anything was sent
    (checkpoint / "plots" / "leak.png").unlink()
    zoo.push_to_hub(checkpoint, "physics/fno", token="hf_test")
    files = hub.commits("physics/fno")[0].files  # the repo's tree at the newest commit
    assert sorted(set(files) - {".gitattributes"}) == ["README.md", "config.json", "model.safetensors", "plots/error.png"]
    assert all(b"private key" not in content for content in files.values())


def test_push_refuses_a_symlinked_checkpoint_file(hub, checkpoint, tmp_path):
    outside = tmp_path / "elsewhere.md"
    outside.write_text("# not this checkpoint's card")
    (checkpoint / "README.md").unlink()
    (checkpoint / "README.md").symlink_to(outside)
    with pytest.raises(CheckpointError, match=r"README.md is a symbolic link to .*elsewhere.md"):
        zoo.push_to_hub(checkpoint, "physics/fno", token="hf_test")


# ---- 6. every command: one line, exit status 2, traceback only with --debug


def torch_pickle_needing_code(path):
    torch.save({"x": datetime.datetime(2026, 1, 1)}, path)  # weights_only refuses: a 4-line torch message
    return path


def cli_cases(tmp_path, checkpoint):
    config = write_run_config(tmp_path)
    data = tmp_path / "train.pt"
    (tmp_path / "big").mkdir()
    big_batch = write_run_config(tmp_path / "big", batch_size=100)
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    bad_pt = torch_pickle_needing_code(tmp_path / "bad.pt")
    return {
        "eval --batch-size 0": (["eval", str(checkpoint), "--data", str(data), "--batch-size", "0"], "batch size must be at least 1"),
        "eval of a .pt that is no tensor file": (["eval", str(checkpoint), "--data", str(bad_pt)], "not a tensor file zoo can read"),
        "train --out-dir naming a file": (["train", str(config), "--out-dir", str(a_file), "--quiet"], "is a file; choose another --out-dir"),
        "train with a batch larger than the data": (["train", str(big_batch), "--out-dir", str(tmp_path / "r2"), "--quiet"], "no dataset holds a full batch of 100"),
        "finetune --lora-rank 0": (
            ["finetune", "--from", str(checkpoint), "--data", str(data), "--spectral", "lora", "--lora-rank", "0", "--out-dir", str(tmp_path / "ft"), "--quiet"],
            "rank must be in [1,",
        ),
        "download NAME --revision v1": (["download", "fno-darcy", "--revision", "v1"], "applies to Hub repos only"),
        "data info on a missing path": (["data", "info", str(tmp_path / "missing")], "missing: file not found"),
        "data info of a .pt that is no tensor file": (["data", "info", str(bad_pt)], "not a tensor file zoo can read"),
        "data generate with no samples": (["data", "generate", "darcy", "--samples", "0", "--quiet", str(tmp_path / "d")], "must be positive"),
        "card with neither name nor --all": (["card"], "give a checkpoint NAME or --all"),
        "demo of a missing checkpoint": (["demo", "--checkpoint", str(tmp_path / "nothing"), "--out", str(tmp_path / "demo")], "nothing"),
    }


CASES = [
    "eval --batch-size 0",
    "eval of a .pt that is no tensor file",
    "train --out-dir naming a file",
    "train with a batch larger than the data",
    "finetune --lora-rank 0",
    "download NAME --revision v1",
    "data info on a missing path",
    "data info of a .pt that is no tensor file",
    "data generate with no samples",
    "card with neither name nor --all",
    "demo of a missing checkpoint",
]


@pytest.mark.parametrize("case", CASES)
def test_a_user_mistake_is_one_line_and_exit_status_2(tmp_path, capsys, case):
    # `zoo list` takes no input a user can get wrong, so it has no case here.
    torch.manual_seed(0)
    checkpoint = save_pretrained(FNO(**FNO_CONFIG), tmp_path / "ckpt")
    argv, message = cli_cases(tmp_path, checkpoint)[case]
    capsys.readouterr()
    assert main(argv) == 2
    line = one_line_error(capsys.readouterr().err, argv[0])
    assert message in line
    with pytest.raises(Exception, match=".") as error:  # --debug: the exception itself, for a traceback
        main(["--debug", *argv])
    assert not isinstance(error.value, SystemExit)


# ---- 7. one input policy for every model


def model_inputs(in_channels):
    torch.manual_seed(0)
    x = torch.randn(2, in_channels, 16, 16)
    nan, inf = x.clone(), x.clone()
    nan[1, 0, 3, 4] = float("nan")
    inf[0, -1, 0, 0] = float("inf")
    return {
        "NaN": (nan, ValueError, "contains 1 NaN or Inf values"),
        "Inf": (inf, ValueError, "contains 1 NaN or Inf values"),
        "float64": (x.double(), TypeError, "has dtype torch.float64 but the model's weights are torch.float32"),
        "float16": (x.half(), TypeError, "has dtype torch.float16 but the model's weights are torch.float32"),
        "empty batch": (x[:0], ValueError, "has an empty batch"),
        "0x0 grid": (x[..., :0, :0], ValueError, "has an empty grid"),
        "wrong channels": (torch.randn(2, in_channels + 1, 16, 16), ValueError, f"has {in_channels + 1} channels, expected {in_channels}"),
    }


# zoo's own models (other tests register throwaway classes), each called as ``model(x)``; the
# MultiphysicsOperator also reads field names, and tests/test_multiphysics.py holds its bad-input cases.
ZOO_MODELS = [
    name for name in zoo.list_models()
    if get_model_class(name).__module__.startswith("zoo.") and name != "MultiphysicsOperator"
]


@pytest.mark.parametrize("name", ZOO_MODELS)  # zoo's own: other tests register throwaway classes
def test_every_model_answers_odd_input_with_a_clear_error(tmp_path, name):
    config, in_channels = SMALL[name]
    model = load_checkpoint(save_pretrained(zoo.create_model(name, **config), tmp_path / name))
    for case, (x, kind, message) in model_inputs(in_channels).items():
        with pytest.raises(kind, match=message):
            model(x)
    # a 1x1 grid: a defined result (a field on one point) or an error naming the model's constraint
    try:
        y = model(torch.randn(2, in_channels, 1, 1))
    except ValueError as error:
        assert str(error).startswith(name) or name in str(error)
    else:
        assert y.shape == (2, model.out_channels, 1, 1) and torch.isfinite(y).all()


# ---- 8. zoo data info verifies every shard


def test_data_info_names_truncated_and_corrupted_shards(tmp_path, capsys):
    from zoo.data.equations import navier_stokes_recipe
    from zoo.data.generate import generate

    generate(tmp_path, navier_stokes_recipe(viscosity=1e-3, resolution=16, steps=1, record_every=0.5), samples=3, seed=0, shard_size=1, progress=False)
    assert main(["data", "info", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["bad_shards"] == {}
    truncated, corrupted = tmp_path / "shard-00000.safetensors", tmp_path / "shard-00002.safetensors"
    truncated.write_bytes(truncated.read_bytes()[:-100])
    raw = bytearray(corrupted.read_bytes())
    raw[-5] ^= 0x40  # one bit of one float: the header stays valid, the checksum does not
    corrupted.write_bytes(bytes(raw))
    assert main(["data", "info", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    bad = json.loads(captured.out)["bad_shards"]
    assert sorted(bad) == ["shard-00000.safetensors", "shard-00002.safetensors"]
    assert "sha256 differs" in bad["shard-00002.safetensors"]
    assert "2 bad shard(s): shard-00000.safetensors" in one_line_error(captured.err, "data")


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_atomic_writes_get_the_permissions_a_plain_write_would(tmp_path, mask):
    from zoo.files import atomic_write_text

    previous = os.umask(mask)
    try:
        atomic_write_text(tmp_path / "metrics.json", "{}\n")
        (tmp_path / "plain.json").write_text("{}\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode) == stat.S_IMODE((tmp_path / "plain.json").stat().st_mode) == 0o666 & ~mask
