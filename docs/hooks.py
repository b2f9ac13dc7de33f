"""MkDocs hook: the site's pages made at build time from files that live outside ``docs/``.

* ``index.md`` from README.md and ``benchmarks.md`` from BENCHMARKS.md, their links into the
  repository rewritten to the pages made from them;
* ``models/<name>.md``, a page per model card in ``model_cards/``, with the committed plots of
  ``pretrained/<name>/plots/`` they show;
* ``reference/<package>.md``, the API of each package, rendered by mkdocstrings from the
  docstrings (griffe reads the source; nothing is imported);
* ``gallery.md``: the checkpoints' figures, and each example with its figures when a local run
  wrote them to ``outputs/examples/<name>/`` (they are not committed);
* the navigation: these pages in a fixed order, then any other page of ``docs/``.

Nothing is written to the repository; mkdocs holds the generated pages in memory.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
# (page title, module) of each API page, in the order of docs/architecture.md, top to bottom.
API_PACKAGES = [
    ("Training", "zoo.train"),
    ("Evaluation", "zoo.eval"),
    ("Hub", "zoo.hub"),
    ("Data", "zoo.data"),
    ("Losses", "zoo.losses"),
    ("Models", "zoo.models"),
    ("Layers", "zoo.layers"),
    ("PDE solvers", "zoo.pde"),
    ("Triton kernels", "zoo.kernels"),
]
# zoo.kernels is kept in kernels/ in the repository (installed as zoo.kernels; pyproject.toml).
SOURCE_MODULES = {"zoo.kernels": "kernels"}
# Where a repository path linked from README.md or BENCHMARKS.md lives on the site.
SITE_PATHS = {"README.md": "index.md", "BENCHMARKS.md": "benchmarks.md", "model_cards/": "models/index.md"}
LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")
SPHINX_ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|obj|exc):<code>(~?)([^<]*)</code>")


def on_files(files: Files, config) -> Files:
    pages = {
        "index.md": _site_links(_read("README.md")),
        "benchmarks.md": _site_links(_read("BENCHMARKS.md")),
        "models/index.md": _model_cards_index(),
        "gallery.md": _gallery(files, config),
    }
    for name, card in _model_cards().items():
        pages[f"models/{name}.md"] = card
    for title, module in API_PACKAGES:
        pages[f"reference/{module.removeprefix('zoo.')}.md"] = _api_page(title, module)
    for uri, text in pages.items():
        files.append(File.generated(config, uri, content=text))
    for plot in sorted(ROOT.glob("pretrained/*/plots/*.png")):
        files.append(File.generated(config, plot.relative_to(ROOT).as_posix(), abs_src_path=str(plot)))
    config["nav"] = _navigation(files, sorted(_model_cards()))
    return files


def on_page_content(html: str, page, config, files) -> str:
    """Docstrings use Sphinx roles (``:func:`name```, ``~`` for the last part only); show the name, as code."""

    def name(match: re.Match) -> str:
        return f"<code>{match.group(2).rsplit('.', 1)[-1] if match.group(1) else match.group(2)}</code>"

    return SPHINX_ROLE.sub(name, html)


def _api_page(title: str, package: str) -> str:
    """The package's docstring and public names, then each of its modules (subpackages' too) with
    everything it defines: every object once, under the module that is its home."""
    source = SOURCE_MODULES.get(package, package)
    folder = ROOT.joinpath(*source.split("."))
    init = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    exported = next((ast.literal_eval(node.value) for node in init.body if isinstance(node, ast.Assign)
                     and any(getattr(target, "id", None) == "__all__" for target in node.targets)), [])
    lines = [f"# `{package}`: {title.lower()}", "", f"::: {source}", "    options:", "      members: false", ""]
    if exported:
        lines += [f"Import from `{package}`: " + ", ".join(f"`{name}`" for name in exported) + ".", ""]
    for path in sorted(folder.rglob("*.py")):
        parts = path.relative_to(folder).with_suffix("").parts
        if not any(part.startswith("_") for part in parts):
            lines += [f"::: {'.'.join((source, *parts))}", "    options:", "      show_root_heading: true", "      show_root_full_path: true",
                      f"      heading: {'.'.join((package, *parts))}", ""]
    return "\n".join(lines)


def _read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def _site_links(markdown: str) -> str:
    """Links into the repository, as seen from its root, made links between site pages.

    ``docs/X`` becomes ``X``; README.md, BENCHMARKS.md and ``model_cards/`` become their pages.
    Anything else is left as it is, so a link to a file the site lacks fails ``mkdocs build --strict``.
    """

    def rewrite(match: re.Match) -> str:
        target = match.group(2)
        if "://" not in target and not target.startswith("mailto:"):
            target = SITE_PATHS.get(target, target.removeprefix("docs/"))
            if target.startswith("model_cards/") and target.endswith(".md"):
                target = "models/" + target.removeprefix("model_cards/")
        return f"{match.group(1)}{target}{match.group(3) or ''}{match.group(4)}"

    return LINK.sub(rewrite, markdown)


def _model_cards() -> dict[str, str]:
    """Each card of ``model_cards/`` without its Hub metadata block; its plot links
    (``../pretrained/<name>/plots/...``) hold on the site as in the repository."""
    cards = {}
    for path in sorted((ROOT / "model_cards").glob("*.md")):
        if path.name != "README.md":
            cards[path.stem] = re.sub(r"\A---\n.*?\n---\n+", "", path.read_text(encoding="utf-8"), flags=re.S)
    return cards


def _model_cards_index() -> str:
    about = _read("model_cards/README.md").split("\n", 1)[1]
    rows = "\n".join(f"- [{name}]({name}.md)" for name in sorted(_model_cards()))
    return f"# Model cards\n\n{rows}\n{about}"


def _gallery(files: Files, config) -> str:
    lines = ["# Gallery", "", "The figures of the pretrained checkpoints (stored with them, in `pretrained/<name>/plots/`) and of the examples.", ""]
    lines += ["## Pretrained checkpoints", ""]
    for directory in sorted(path.parent for path in ROOT.glob("pretrained/*/plots")):
        name = directory.name
        lines += [f"### {name}", "", f"Protocol and numbers: [the model card](models/{name}.md).", ""]
        lines += [f"![{plot.stem}]({plot.relative_to(ROOT).as_posix()}){{ width=\"32%\" }}" for plot in sorted(directory.glob("plots/*.png"))]
        lines.append("")
    lines += ["## Examples", "",
              "Each example writes its plots and `results.json` to `outputs/examples/<name>/`; the figures of the "
              "full runs, with their protocol, are in [the benchmarks](benchmarks.md#from-pretrained-to-downstream-examples). "
              "The plots are not committed: a figure appears here when the site is built after a local run.", ""]
    for script in sorted(ROOT.glob("examples/*.py")):
        source = script.read_text(encoding="utf-8")
        if '__name__ == "__main__"' not in source:
            continue  # a helper module, not an example
        summary, _, details = (ast.get_docstring(ast.parse(source)) or script.stem).partition("\n")
        lines += [f"### `{script.name}`", "", summary, "", details.strip(), ""]
        lines += _example_figures(script.stem, files, config)
    return "\n".join(lines) + "\n"


def _example_figures(name: str, files: Files, config) -> list[str]:
    out = ROOT / "outputs" / "examples" / name
    plots = sorted(out.glob("*.png"))
    if not plots:
        return [f"_No local run: `python examples/{name}.py` writes its figures to `outputs/examples/{name}/`._", ""]
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else {}
    kind = "a `--quick` run (a small version, not the published figures)" if results.get("quick") else "a full run"
    lines = [f"Figures of {kind} on this machine: `{results.get('command', 'command not recorded')}`.", ""]
    for plot in plots:
        uri = f"gallery/{name}/{plot.name}"
        files.append(File.generated(config, uri, abs_src_path=str(plot)))
        lines.append(f"![{plot.stem}]({uri}){{ width=\"32%\" }}")
    return lines + [""]


def _navigation(files: Files, cards: list[str]) -> list:
    fixed = ["index.md", "architecture.md", "training.md", "troubleshooting.md", "gallery.md", "benchmarks.md"]
    pages = {file.src_uri for file in files if file.src_uri.endswith(".md")}
    others = sorted(uri for uri in pages if "/" not in uri and uri not in fixed)
    return [
        *[{_title(uri, files): uri} for uri in fixed if uri in pages],
        *[{_title(uri, files): uri} for uri in others],
        {"Model cards": ["models/index.md", *[{name: f"models/{name}.md"} for name in cards]]},
        {"API reference": [{f"{module} ({title.lower()})": f"reference/{module.removeprefix('zoo.')}.md"} for title, module in API_PACKAGES]},
    ]


def _title(uri: str, files: Files) -> str:
    """The page's first heading, without Markdown code marks."""
    text = files.get_file_from_path(uri).content_string
    heading = next((line[2:] for line in text.splitlines() if line.startswith("# ")), uri.removesuffix(".md"))
    return "Home" if uri == "index.md" else heading.replace("`", "")
