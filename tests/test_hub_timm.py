"""timm's own Hub format (config.json with pretrained_cfg + model.safetensors) on the local Hub."""

import pytest
import torch
from hub_server import LocalHub, point_client_at

import zoo
from zoo.hub import CheckpointError

timm = pytest.importorskip("timm")
TOKEN = "hf_local_test_token"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with LocalHub(token=TOKEN) as server:
        point_client_at(server, monkeypatch, tmp_path / "hf-cache")
        yield server


def push_and_reload(model, repo_id, **model_args):
    """Push with the arguments the model was built with: timm 1.0.31+ records them itself, 1.0.29 only
    when given (the GPU machine has 1.0.29), and without them a reload builds the default model."""
    from timm.models import push_to_hf_hub

    push_to_hf_hub(model, repo_id, token=TOKEN, model_args=model_args, safe_serialization=True)  # safetensors only: no pickle
    return timm.create_model(f"hf-hub:{repo_id}", pretrained=True).eval()


def test_timm_model_round_trips_through_timm_hub_format(hub):
    torch.manual_seed(0)
    args = dict(img_size=32, patch_size=8, depth=2, num_classes=4)
    model = timm.create_model("vit_tiny_patch16_224", **args).eval()
    loaded = push_and_reload(model, "physics/vit-micro", **args)
    assert sorted(hub.commits("physics/vit-micro")[0].files) == [".gitattributes", "README.md", "config.json", "model.safetensors"]
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded(x), model(x))


def test_zoo_loader_points_timm_checkpoints_to_timm(hub):
    torch.manual_seed(0)
    args = dict(img_size=32, patch_size=8, depth=1, num_classes=2)
    push_and_reload(timm.create_model("vit_tiny_patch16_224", **args), "physics/vit-micro", **args)
    with pytest.raises(CheckpointError, match="looks like a timm checkpoint: load it with timm.create_model"):
        zoo.from_pretrained("physics/vit-micro")


ZOO_VARIANTS = sorted(timm.list_models("zoo_*"))


@pytest.mark.parametrize("variant", ZOO_VARIANTS)
def test_zoo_variant_round_trips_through_timm_hub_format(hub, variant):
    torch.manual_seed(0)
    args = dict(img_size=32, patch_size=8, depth=1, num_classes=4)
    model = timm.create_model(variant, **args).eval()
    loaded = push_and_reload(model, f"physics/{variant.replace('_', '-')}-micro", **args)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded(x), model(x))
