"""Model cards are generated from stored config and evaluation, with Hub-readable metadata."""

import json
import re

import pytest
import torch
from huggingface_hub import ModelCard

import zoo
from zoo.hub.cards import checkpoint_card, render_card
from zoo.hub.sources import PACKAGE_DIR, PRETRAINED_PATH_ENV

METADATA = {
    "task": "vorticity t=1..10 -> t=11..50",
    "resolution": [16, 16],
    "license": "mit",
    "datasets": ["physics/ns2d-nu1e-3"],
    "base_model": "physics/fno-ns2d-nu1e-4",
    "tags": ["navier-stokes"],
    "pde": {"name": "Navier-Stokes 2D vorticity", "parameters": {"nu": 0.001}, "boundary_conditions": "periodic"},
    "limitations": ["Not trained on forcings other than the FNO paper's."],
}
EVALUATION = {
    "test_data": {"description": "NS nu=1e-3 test trajectories", "samples": 20},
    "resolutions": [
        {"grid": [16, 16], "zero_shot": False, "samples": 20, "metrics": {"relative_l2": 0.0121, "relative_h1": 0.05}},
        {"grid": [32, 32], "zero_shot": True, "samples": 10, "metrics": {"relative_l2": 0.0135, "relative_h1": 0.07}},
    ],
    "baselines": [{"name": "U-Net", "resolutions": [{"grid": [16, 16], "zero_shot": False, "metrics": {"relative_l2": 0.0245}}]}],
    "rollout": [{"grid": [16, 16], "times": list(range(11, 51)), "relative_l2": [t / 1000 for t in range(11, 51)]}],
    "speed": [{"grid": [16, 16], "samples": 20, "model_seconds": 0.4, "solver_seconds": 95.0, "device": "CPU", "solver": "pseudo-spectral CN"}],
}


def small_fno():
    torch.manual_seed(0)
    return zoo.FNO(1, 1, (4, 4), width=8, n_layers=2, projection_channels=16)


@pytest.fixture
def checkpoint(tmp_path):
    return zoo.save_pretrained(small_fno(), tmp_path / "store" / "fno-ns", metadata=METADATA, evaluation=EVALUATION)


def section(card, title):
    return card.split(f"## {title}\n\n", 1)[1].split("\n## ", 1)[0]


def test_yaml_metadata_reads_back_with_huggingface_hub(checkpoint):
    data = ModelCard((checkpoint / "README.md").read_text()).data
    assert (data.license, data.library_name, data.base_model) == ("mit", "zoo", "physics/fno-ns2d-nu1e-4")
    assert data.datasets == ["physics/ns2d-nu1e-3"]
    assert {"zoo", "fno", "navier-stokes"} <= set(data.tags)
    results = {(r.dataset_config, r.metric_type): r.metric_value for r in data.eval_results}
    expected = {("x".join(map(str, e["grid"])), m): v for e in EVALUATION["resolutions"] for m, v in e["metrics"].items()}
    assert results == expected and data.model_name == "fno-ns"


def test_sections_appear_in_order(checkpoint):
    card = (checkpoint / "README.md").read_text()
    assert re.findall(r"^## (.+)$", card, re.M) == [
        "Usage",
        "The PDE and its parameters",
        "Data generation",
        "Input and output fields",
        "Normalisation",
        "Training recipe and compute",
        "Evaluation",
        "Speed against the numerical solver",
        "How to fine-tune",
        "Limitations",
        "Architecture",
    ]
    assert "- **nu**: 0.001" in section(card, "The PDE and its parameters")
    assert section(card, "Data generation").strip() == "_Not recorded in this checkpoint's metadata._"
    params = sum(p.numel() for p in small_fno().parameters())
    assert f"{params:,} parameters" in card


def test_evaluation_tables_carry_the_stored_numbers(checkpoint):
    evaluation = section((checkpoint / "README.md").read_text(), "Evaluation")
    assert "| 16x16 | no (training grid) | 0.05 | 0.0121 | - | 0.0245 |" in evaluation
    assert "| 32x32 | yes | 0.07 | 0.0135 | - | - |" in evaluation
    rows = re.findall(r"^\| (\d+) \| ([\d.]+) \|$", evaluation, re.M)
    assert rows[0] == ("11", "0.011") and rows[-1] == ("50", "0.05") and len(rows) == 6


def test_speed_up_is_solver_time_over_model_time(checkpoint):
    speed = section((checkpoint / "README.md").read_text(), "Speed against the numerical solver")
    assert "| 16x16 | 20 | 0.4 | 95 | 238x | CPU | pseudo-spectral CN |" in speed  # 95 / 0.4 = 237.5


def test_unevaluated_checkpoint_says_so():
    config = {"architecture": "FNO", "config": small_fno().config, "metadata": {}}
    card = render_card(config, None, name="fresh")
    assert section(card, "Evaluation").strip() == "_Not evaluated yet: this checkpoint has no evaluation.json._"
    assert "model-index" not in card.split("---")[1]


def test_zero_shot_free_evaluation_is_listed_as_a_limitation():
    config = {"architecture": "FNO", "config": small_fno().config, "metadata": {}}
    card = render_card(config, {"resolutions": EVALUATION["resolutions"][:1]}, name="fresh")
    assert "Evaluated only at its training grid" in section(card, "Limitations")


def test_zoo_card_prints_the_card_regenerated_from_stored_evaluation(checkpoint, monkeypatch, capsys):
    from zoo.cli import main

    monkeypatch.setenv(PRETRAINED_PATH_ENV, str(checkpoint.parent))
    evaluation = json.loads((checkpoint / "evaluation.json").read_text())
    evaluation["resolutions"][0]["metrics"]["relative_l2"] = 0.0099
    (checkpoint / "evaluation.json").write_text(json.dumps(evaluation))
    stored = (checkpoint / "README.md").read_text()
    assert main(["card", "fno-ns"]) == 0
    card = capsys.readouterr().out
    assert (checkpoint / "README.md").read_text() == stored  # printed, not written
    assert "| 16x16 | no (training grid) | 0.05 | 0.0099 |" in card
    results = {(r.dataset_config, r.metric_type): r.metric_value for r in ModelCard(card).data.eval_results}
    assert results[("16x16", "relative_l2")] == 0.0099


def test_plots_are_linked_relative_to_where_the_card_lives(checkpoint, tmp_path, monkeypatch):
    from zoo.cli import main

    (checkpoint / "plots").mkdir()
    (checkpoint / "plots" / "rollout_error.png").write_bytes(b"png")
    monkeypatch.setenv(PRETRAINED_PATH_ENV, str(checkpoint.parent))
    (tmp_path / "cards").mkdir()
    assert main(["card", "fno-ns", "--out", str(tmp_path / "cards" / "fno-ns.md")]) == 0
    [link] = re.findall(r"!\[Rollout error\]\((.+)\)", (tmp_path / "cards" / "fno-ns.md").read_text())
    assert (tmp_path / "cards" / link).resolve() == (checkpoint / "plots" / "rollout_error.png").resolve()
    assert "![Rollout error](plots/rollout_error.png)" in checkpoint_card(checkpoint)


BUNDLED = sorted(p.parent for p in (PACKAGE_DIR.parent / "pretrained").glob("*/config.json"))


@pytest.mark.parametrize("directory", BUNDLED, ids=[p.name for p in BUNDLED])
def test_bundled_cards_are_the_generated_ones(directory):
    """Cards are never edited by hand: each committed card equals the one generated now."""
    assert (directory / "README.md").read_text() == checkpoint_card(directory)
    card_copy = PACKAGE_DIR.parent / "model_cards" / f"{directory.name}.md"
    assert card_copy.read_text() == checkpoint_card(directory, links_from=card_copy.parent)


def _files(folder):
    return {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("directory", BUNDLED[:1], ids=[p.name for p in BUNDLED[:1]])
def test_zoo_card_leaves_the_package_folders_untouched(directory, tmp_path, capsys):
    """`zoo card NAME` prints; `--out` into the package's own folders is refused before any write."""
    from zoo.cli import main

    before = _files(directory.parent)
    assert main(["card", directory.name]) == 0
    assert capsys.readouterr().out == checkpoint_card(directory)
    for inside in (directory / "README.md", directory / "plots" / "card.md", PACKAGE_DIR / "card.md"):
        assert main(["card", directory.name, "--out", str(inside)]) == 2
        assert "inside zoo's own folders; write the card elsewhere" in capsys.readouterr().err
    assert _files(directory.parent) == before
    assert not (PACKAGE_DIR / "card.md").exists()
    assert main(["card", directory.name, "--out", str(tmp_path / "card.md")]) == 0
    assert (tmp_path / "card.md").read_text() == checkpoint_card(directory, links_from=tmp_path)


def test_zoo_card_all_refreshes_bundled_cards_and_their_model_cards_copies(tmp_path, monkeypatch):
    from zoo.cli import main
    from zoo.hub import cards, sources

    checkout = tmp_path / "checkout"  # a stand-in source checkout: pyproject.toml, zoo/, pretrained/, model_cards/
    (checkout / "zoo").mkdir(parents=True)
    (checkout / "model_cards").mkdir()
    (checkout / "pyproject.toml").write_text("")
    directory = zoo.save_pretrained(small_fno(), checkout / "pretrained" / "fno-ns", metadata=METADATA, evaluation=EVALUATION)
    monkeypatch.setattr(sources, "PACKAGE_DIR", checkout / "zoo")
    monkeypatch.setattr(cards, "MODEL_CARDS_DIR", checkout / "model_cards")
    monkeypatch.delenv(PRETRAINED_PATH_ENV, raising=False)
    (directory / "README.md").write_text("edited by hand")
    assert main(["card", "--all"]) == 0
    assert (directory / "README.md").read_text() == checkpoint_card(directory)
    assert (checkout / "model_cards" / "fno-ns.md").read_text() == checkpoint_card(directory, links_from=checkout / "model_cards")


def test_zoo_card_all_never_rewrites_an_installed_package(tmp_path, monkeypatch, capsys):
    from zoo.cli import main
    from zoo.hub import sources

    package = tmp_path / "site-packages" / "zoo"  # an installed wheel: zoo/pretrained/, no pyproject.toml beside it
    directory = zoo.save_pretrained(small_fno(), package / "pretrained" / "fno-ns", metadata=METADATA, evaluation=EVALUATION)
    monkeypatch.setattr(sources, "PACKAGE_DIR", package)
    monkeypatch.delenv(PRETRAINED_PATH_ENV, raising=False)
    (directory / "README.md").write_text("as installed")
    assert main(["card", "--all"]) == 2
    assert "no checkpoint outside the installed package" in capsys.readouterr().err
    assert (directory / "README.md").read_text() == "as installed"


def test_intervals_sources_and_cross_generator_are_rendered(tmp_path):
    evaluation = json.loads(json.dumps(EVALUATION))
    evaluation["resolutions"][0] |= {"intervals": {"relative_l2": [0.0117, 0.0125]}, "source": "held-out trajectories, zoo generator seed 1"}
    evaluation["cross_generator"] = {"description": "Four trajectories of another solver.",
                                     "results": [{"comparison": "model on the other data", "samples": 4, "relative_l2": 0.016, "interval": [0.013, 0.019]}]}
    directory = zoo.save_pretrained(small_fno(), tmp_path / "fno-ci", metadata=METADATA, evaluation=evaluation)
    text = section((directory / "README.md").read_text(), "Evaluation")
    assert "| 16x16 | no (training grid) | 0.05 | 0.0121 [0.0117, 0.0125] | - | 0.0245 | 20 held-out trajectories, zoo generator seed 1 |" in text
    assert "| 32x32 | yes | 0.07 | 0.0135 | - | - | - |" in text
    assert "Four trajectories of another solver." in text and "| model on the other data | 4 | 0.016 [0.013, 0.019] |" in text


UNCERTAINTY = {"description": "Calibrated on 200 trajectories (seed 60), tested on 150 (seeds 61, 1).",
               "results": [{"level": 0.9, "mode": "pointwise", "half_width": 0.0171, "relative_half_width": 0.0184,
                            "coverage": 0.9049, "coverage_per_step": [0.8931, 0.9142],
                            "calibration_functions": 200, "test_functions": 150},
                           {"level": 0.9, "mode": "domain", "half_width": 0.02, "coverage": 0.95,
                            "calibration_functions": 200, "test_functions": 150}]}


def test_calibrated_band_width_and_coverage_are_rendered(tmp_path):
    evaluation = json.loads(json.dumps(EVALUATION)) | {"uncertainty": UNCERTAINTY}
    directory = zoo.save_pretrained(small_fno(), tmp_path / "fno-bands", metadata=METADATA, evaluation=evaluation)
    text = section((directory / "README.md").read_text(), "Evaluation")
    assert UNCERTAINTY["description"] in text
    assert "| 90% | pointwise | +-0.0171 | 1.8% | 90.5% | 89.3% - 91.4% | 200 / 150 |" in text
    assert "| 90% | domain | +-0.02 | - | 95.0% | - | 200 / 150 |" in text


@pytest.mark.parametrize("change, message", [
    (lambda e: e["resolutions"][0].update(intervals={"relative_h2": [0.0, 1.0]}), "no such metric"),
    (lambda e: e.update(uncertainty=UNCERTAINTY | {"results": [UNCERTAINTY["results"][0] | {"mode": "marginal"}]}),
     "'pointwise' or 'domain'"),
    (lambda e: e.update(uncertainty=UNCERTAINTY | {"results": [UNCERTAINTY["results"][0] | {"coverage": 90.5}]}),
     r"coverage: must lie in \[0, 1\]"),
    (lambda e: e["resolutions"][0].update(intervals={"relative_l2": [0.02, 0.01]}), "is above high"),
    (lambda e: e.update(cross_generator={"description": "x", "results": []}), "non-empty list"),
])
def test_malformed_intervals_are_refused(change, message):
    from zoo.hub.errors import CheckpointError
    from zoo.hub.schema import check_evaluation

    evaluation = json.loads(json.dumps(EVALUATION))
    change(evaluation)
    with pytest.raises(CheckpointError, match=message):
        check_evaluation(evaluation, "evaluation.json")
