"""Publishing to and loading from a Hub through the real huggingface_hub client, on a local server."""

import json
import os
import subprocess
import sys

import pytest
import safetensors.torch
import torch
from hub_server import LocalHub, point_client_at

import zoo
from zoo.hub import CheckpointError, CheckpointNotFoundError

TOKEN = "hf_local_test_token"
REPO = "physics/fno-tiny"


def small_fno(seed=0):
    torch.manual_seed(seed)
    return zoo.FNO(2, 1, (4, 3), width=8, n_layers=2, projection_channels=16)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with LocalHub(token=TOKEN) as server:
        point_client_at(server, monkeypatch, tmp_path / "hf-cache")
        yield server


@pytest.fixture
def inputs():
    torch.manual_seed(123)
    return torch.randn(2, 2, 16, 12)


def test_push_then_load_round_trips_in_one_commit(hub, tmp_path, inputs):
    model = small_fno()
    evaluation = {"resolutions": [{"grid": [16, 12], "zero_shot": False, "metrics": {"relative_l2": 0.3}}]}
    commit = zoo.push_to_hub(model, REPO, token=TOKEN, metadata={"license": "mit"}, evaluation=evaluation)
    [pushed, _created] = hub.commits(REPO)  # one commit besides the repo's creation
    assert hub.repos[REPO].branches["main"] == commit.oid
    assert sorted(pushed.files) == [".gitattributes", "README.md", "config.json", "evaluation.json", "model.safetensors"]
    assert f'zoo.from_pretrained("{REPO}")' in pushed.files["README.md"].decode()  # the card names the repo

    loaded = zoo.from_pretrained(REPO)
    assert torch.equal(loaded(inputs), model(inputs))
    snapshot = tmp_path / "hf-cache" / "models--physics--fno-tiny" / "snapshots" / commit.oid
    assert (snapshot / "config.json").is_file() and (snapshot / "model.safetensors").is_file()
    assert (tmp_path / "hf-cache" / "models--physics--fno-tiny" / "refs" / "main").read_text() == commit.oid


def test_second_load_works_offline_from_the_cache(hub, monkeypatch, inputs):
    from huggingface_hub import constants

    model = small_fno()
    zoo.push_to_hub(model, REPO, token=TOKEN)
    zoo.from_pretrained(REPO)
    requests_before = len(hub.requests)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert torch.equal(zoo.from_pretrained(REPO)(inputs), model(inputs))
    assert len(hub.requests) == requests_before  # not one request reached the server


def test_offline_and_not_cached_says_so(hub, monkeypatch):
    from huggingface_hub import constants

    zoo.push_to_hub(small_fno(), REPO, token=TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CheckpointNotFoundError, match="HF_HUB_OFFLINE is set and it is not in the cache"):
        zoo.from_pretrained(REPO)


def test_wrong_revision_is_a_clear_error(hub):
    zoo.push_to_hub(small_fno(), REPO, token=TOKEN)
    with pytest.raises(CheckpointNotFoundError, match=f"Hub repo '{REPO}' has no revision 'v9'"):
        zoo.from_pretrained(REPO, revision="v9")
    with pytest.raises(CheckpointNotFoundError, match="has no revision '0{40}'"):
        zoo.from_pretrained(REPO, revision="0" * 40)


def test_missing_repo_is_a_clear_error(hub):
    with pytest.raises(CheckpointNotFoundError, match="no local directory 'physics/nothing-here' and no Hub repo of that name at http://127.0.0.1"):
        zoo.from_pretrained("physics/nothing-here")


def test_pinned_commit_hash_loads_that_version(hub, monkeypatch, inputs):
    from huggingface_hub import constants

    first, second = small_fno(seed=1), small_fno(seed=2)
    pinned = zoo.push_to_hub(first, REPO, token=TOKEN).oid
    zoo.push_to_hub(second, REPO, token=TOKEN)
    assert torch.equal(zoo.from_pretrained(REPO, revision=pinned)(inputs), first(inputs))
    assert torch.equal(zoo.from_pretrained(REPO)(inputs), second(inputs))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # a cached commit hash needs no network
    assert torch.equal(zoo.from_pretrained(REPO, revision=pinned)(inputs), first(inputs))


def test_push_to_a_branch_leaves_main_alone(hub, inputs):
    main_model, dev_model = small_fno(seed=1), small_fno(seed=2)
    zoo.push_to_hub(main_model, REPO, token=TOKEN)
    zoo.push_to_hub(dev_model, REPO, token=TOKEN, revision="dev")
    assert torch.equal(zoo.from_pretrained(REPO, revision="dev")(inputs), dev_model(inputs))
    assert torch.equal(zoo.from_pretrained(REPO)(inputs), main_model(inputs))


def test_private_repo_needs_the_token(hub, inputs):
    model = small_fno()
    zoo.push_to_hub(model, REPO, token=TOKEN, private=True)
    with pytest.raises(CheckpointNotFoundError, match="or it is private and no valid token was given"):
        zoo.from_pretrained(REPO)
    assert torch.equal(zoo.from_pretrained(REPO, token=TOKEN)(inputs), model(inputs))


def test_push_directory_uploads_every_file_and_refuses_a_broken_one(hub, tmp_path):
    directory = zoo.save_pretrained(small_fno(), tmp_path / "fno-tiny")
    (directory / "plots").mkdir()
    (directory / "plots" / "error.png").write_bytes(b"\x89PNG fake")
    zoo.push_to_hub(directory, REPO, token=TOKEN)
    assert hub.commits(REPO)[0].files["plots/error.png"] == b"\x89PNG fake"

    commits = len(hub.commits(REPO))
    config = json.loads((directory / "config.json").read_text())
    config["config"]["width"] = 16
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not match FNO"):
        zoo.push_to_hub(directory, REPO, token=TOKEN)
    assert len(hub.commits(REPO)) == commits


def test_zoo_download_fetches_the_whole_repo(hub, capsys):
    from zoo.cli import main

    zoo.push_to_hub(small_fno(), REPO, token=TOKEN)
    assert main(["download", REPO]) == 0
    snapshot = capsys.readouterr().out.strip()
    assert sorted(os.listdir(snapshot)) == [".gitattributes", "README.md", "config.json", "model.safetensors"]


LOAD_SCRIPT = """
import sys, safetensors.torch, zoo
model = zoo.from_pretrained(sys.argv[1])
x = safetensors.torch.load_file(sys.argv[2])["x"]
safetensors.torch.save_file({"y": model(x).detach()}, sys.argv[3])
"""


def test_environment_variables_drive_a_fresh_process(tmp_path):
    """HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE as a user sets them, read by huggingface_hub at import."""
    model = small_fno()
    x = torch.randn(1, 2, 8, 8)
    safetensors.torch.save_file({"x": x}, tmp_path / "x.safetensors")
    with LocalHub(token=TOKEN) as hub:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        from huggingface_hub import HfApi

        directory = zoo.save_pretrained(model, tmp_path / "fno-tiny")
        api = HfApi(endpoint=hub.url, token=TOKEN)
        api.create_repo(REPO)
        api.upload_folder(repo_id=REPO, folder_path=directory)
        for offline in ("0", "1"):
            out = tmp_path / f"y{offline}.safetensors"
            run_env = {**env, "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": offline}
            subprocess.run([sys.executable, "-c", LOAD_SCRIPT, REPO, tmp_path / "x.safetensors", out], env=run_env, check=True, timeout=120)
            assert torch.equal(safetensors.torch.load_file(out)["y"], model(x).detach())
            if offline == "0":
                requests_online = len(hub.requests)
        assert len(hub.requests) == requests_online


def test_zoo_card_of_a_hub_repo_prints_it(hub, capsys):
    from zoo.cli import main

    zoo.push_to_hub(small_fno(), REPO, token=TOKEN)
    capsys.readouterr()
    assert main(["card", REPO, "--stdout"]) == 0
    card = capsys.readouterr().out
    assert card.startswith("---\n") and f"# {REPO}\n" in card
    assert main(["card", REPO]) == 2
    assert "read-only cache; use --output or --stdout" in capsys.readouterr().err
