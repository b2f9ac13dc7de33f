"""The multi-physics pretraining corpus (issue #16, section 1) and its downstream transfer systems.

The corpus is a table, ``SYSTEMS``: each ``System`` is one PDE in one regime, the settings of a
``Recipe`` for ``zoo.data.generate`` plus its trajectory counts per split. Systems flagged
``downstream`` are the transfer targets of the sample-efficiency benchmark and never enter
pretraining. Why each regime's amplitudes and grids: docs/corpus.md (64 vs 128 comparisons).

Every system's recipe comes from one function, ``field_recipe`` (``solver_recipe`` adapts any
``zoo.pde`` solver to it): draw each field's initial condition from its law on the solve grid, run
the solver, prepend the initial frame, and store every frame at 64x64 by spectral truncation
(``spectral_resample``: exact for the modes the coarse grid holds); a system solved finer than it
is stored says so in its data card.

Seeds: one root seed; the data set of (system, split) is generated with
``dataset_seed(root, system, split)`` and its sample ``i`` with ``sample_seed(that, i)``.
``check_seed_streams`` proves that no two data sets of the table share a sample seed (each data
set's sample seeds are one interval of 32-bit integers, so disjoint intervals suffice), and
``generate_corpus`` refuses to run otherwise.

Layout written by ``generate_corpus(root)``::

    <root>/corpus.json                   the table: systems, fields, splits, seeds, shapes, statistics
    <root>/<system>/DATACARD.md          equation, parameters, solver, dt, grids, seeds, statistics
    <root>/<system>/<split>/             a zoo data set (dataset.json + shard-*.safetensors), each
                                         field (trajectories, frames, 64, 64) float32
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from zoo.data.generate import SEED_STRIDE, Recipe, generate, sample_generators, shard_samples
from zoo.data.store import read_shard, shard_name, shard_ranges
from zoo.files import atomic_write_text
from zoo.models.multiscale import spectral_resample
from zoo.pde.boussinesq import boussinesq_2d
from zoo.pde.burgers_2d import burgers_2d
from zoo.pde.navier_stokes import FORCING_FORMULAS, default_time_step, navier_stokes_2d, passive_scalar_2d
from zoo.pde.random_fields import gaussian_random_field
from zoo.pde.reaction_diffusion import gray_scott_2d
from zoo.pde.shallow_water import shallow_water_2d
from zoo.pde.wave import wave_2d

STORE_RESOLUTION = 64
ROOT_SEED = 16  # issue #16
SPLITS = ("train", "val", "test")
AXES = ["sample", "time", "x", "y"]

# A solver as the corpus calls it: initial fields, each (B, n, n), and (t_end, record_every) ->
# the fields at t = record_every, ..., t_end, each (B, T, n, n), in the same order.
FieldSolver = Callable[[list[torch.Tensor], float, float], Sequence[torch.Tensor]]


@dataclass(frozen=True)
class RandomField:
    """Initial-condition law of one field: ``offset + g`` with ``g`` a periodic Gaussian random field.

    ``g ~ gaussian_random_field(alpha, tau, sigma)`` (the FNO paper's law and convention; sigma
    ``None``: ``tau^(alpha - 1)``, std ~ 0.26 at alpha 2.5, tau 7). ``sigma = 0`` is the constant
    field ``offset`` and draws nothing from the generator.
    """

    alpha: float = 2.5
    tau: float = 7.0
    sigma: float | None = None
    offset: float = 0.0

    def sample(self, generator: torch.Generator, resolution: int) -> torch.Tensor:
        """One draw on the ``resolution`` grid: ``(resolution, resolution)`` float64."""
        if self.sigma == 0:
            return torch.full((resolution, resolution), float(self.offset), dtype=torch.float64)
        g = gaussian_random_field(1, resolution, alpha=self.alpha, tau=self.tau, sigma=self.sigma, generator=generator, dtype=torch.float64)
        return self.offset + g[0]

    def describe(self) -> dict[str, Any]:
        if self.sigma == 0:
            return {"law": "constant", "value": self.offset}
        sigma = self.tau ** (self.alpha - 1.0) if self.sigma is None else self.sigma
        return {"law": "offset + gaussian_random_field", "offset": self.offset, "alpha": self.alpha, "tau": self.tau, "sigma": sigma}


@dataclass(frozen=True)
class SmoothStep:
    """Initial-condition law of a patchy field: ``value (1 + tanh((g - level) / width)) / 2``, ``g`` the FNO law's GRF.

    Patches of about ``value`` where ``g`` exceeds ``level`` (0.4 ~ 1.5 standard deviations: a
    few percent of the area), zero elsewhere, with smooth edges a spectral solver represents.
    """

    value: float
    level: float
    width: float
    alpha: float = 2.5
    tau: float = 7.0

    def sample(self, generator: torch.Generator, resolution: int) -> torch.Tensor:
        g = RandomField(alpha=self.alpha, tau=self.tau).sample(generator, resolution)
        return 0.5 * self.value * (1 + torch.tanh((g - self.level) / self.width))

    def describe(self) -> dict[str, Any]:
        return {"law": "value (1 + tanh((g - level) / width)) / 2, g ~ gaussian_random_field", "value": self.value, "level": self.level,
                "width": self.width, "alpha": self.alpha, "tau": self.tau, "sigma": self.tau ** (self.alpha - 1.0)}


@dataclass(frozen=True)
class KolmogorovForcing:
    """Vorticity forcing ``amplitude sin(2 pi wavenumber y)``: a shear of ``wavenumber`` periods across y."""

    amplitude: float
    wavenumber: int

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        del x  # uniform in x
        return self.amplitude * torch.sin(2 * math.pi * self.wavenumber * y)

    @property
    def formula(self) -> str:
        return f"{self.amplitude:g} sin({2 * self.wavenumber} pi y)"


def field_recipe(
    *,
    equation: str,
    initial: dict[str, RandomField | SmoothStep],
    solver: FieldSolver,
    parameters: dict[str, Any],
    solver_info: dict[str, Any],
    solve_resolution: int,
    record_every: float,
    records: int,
    store_resolution: int = STORE_RESOLUTION,
) -> Recipe:
    """A recipe storing each field of ``initial`` as ``(n, records + 1, store, store)`` at t = 0, record_every, ...

    Per sample, the fields' initial conditions are drawn in the order of ``initial`` from the
    sample's own generator on the ``solve_resolution`` grid; the solver runs there in float32, and
    every frame (the initial one included) is truncated spectrally to ``store_resolution``.
    """
    if store_resolution > solve_resolution:
        raise ValueError(f"store_resolution {store_resolution} exceeds solve_resolution {solve_resolution}: solve at least as fine as stored")
    names = list(initial)
    description = {
        "parameters": parameters,
        "initial_condition": {name: law.describe() for name, law in initial.items()},
        "grid": {"shape": [store_resolution] * 2, "domain": [[0.0, 1.0], [0.0, 1.0]], "points": "x_i = i / n", "periodic": True},
        "times": [round(i * record_every, 12) for i in range(records + 1)],
        "solver": {**solver_info, "dtype": "float32", "resolution": solve_resolution,
                   "storage": f"spectral truncation {solve_resolution} -> {store_resolution}" if solve_resolution != store_resolution else "as solved"},
    }

    def solve(start: int, stop: int, seed: int) -> dict[str, torch.Tensor]:
        initial_fields = [[] for _ in names]
        for g in sample_generators(seed, start, stop):
            for drawn, law in zip(initial_fields, initial.values()):
                drawn.append(law.sample(g, solve_resolution))
        fields0 = [torch.stack(drawn).float() for drawn in initial_fields]
        solved = solver(fields0, records * record_every, record_every)
        return {
            name: spectral_resample(torch.cat([u0[:, None], u], dim=1), store_resolution).contiguous()
            for name, u0, u in zip(names, fields0, solved)
        }

    return Recipe(equation=equation, fields={name: AXES for name in names}, description=description, solve=solve)


# ----------------------------------------------------------------------------------------------
# Recipe builders.


def solver_recipe(
    function: Callable[..., torch.Tensor | Sequence[torch.Tensor]],
    *,
    initial: dict[str, RandomField | SmoothStep],
    parameters: dict[str, Any],
    dt: float | None,
    scheme: str,
    solve_resolution: int,
    record_every: float,
    records: int,
    store_resolution: int = STORE_RESOLUTION,
    described: dict[str, Any] | None = None,
    keyword_fields: dict[str, str] | None = None,
) -> Recipe:
    """The data of a ``zoo.pde`` solver called as ``function(*initial fields, **parameters, t_end=, record_every=, dt=)``.

    ``function`` returns the fields in the order of ``initial`` (one tensor for one field).
    ``keyword_fields`` maps the last fields of ``initial`` to the keyword arguments that take them
    (an optional tracer); the others are passed by position. ``described`` replaces entries of
    ``parameters`` in the metadata where they are not JSON (a forcing is recorded by its formula).
    """
    keyword_fields = keyword_fields or {}
    positional = len(initial) - len(keyword_fields)
    if list(initial)[positional:] != list(keyword_fields):
        raise ValueError(f"keyword_fields {list(keyword_fields)} must be the last fields of {list(initial)}, in order")

    def solver(fields0: list[torch.Tensor], t_end: float, every: float) -> Sequence[torch.Tensor]:
        by_keyword = dict(zip(keyword_fields.values(), fields0[positional:]))
        solved = function(*fields0[:positional], **by_keyword, **parameters, t_end=t_end, record_every=every, dt=dt)
        return [solved] if isinstance(solved, torch.Tensor) else solved

    return field_recipe(
        equation=function.__name__, initial=initial, solver=solver, parameters=parameters | (described or {}),
        solver_info={"function": f"zoo.pde.{function.__name__}", "scheme": scheme, "dt": dt},
        solve_resolution=solve_resolution, record_every=record_every, records=records, store_resolution=store_resolution,
    )


_NS_SCHEME = "pseudo-spectral, 2/3 dealiasing, Crank-Nicolson diffusion + Heun advection"
_BURGERS_SCHEME = "pseudo-spectral, 2/3 dealiasing, integrating factor (exact diffusion) + RK4 advection"


def navier_stokes_system(
    *,
    viscosity: float,
    forcing: str | KolmogorovForcing | None,
    solve_resolution: int,
    record_every: float,
    records: int,
    diffusivity: float | None = None,
    vorticity: RandomField = RandomField(),
    scalar: RandomField = RandomField(),
    store_resolution: int = STORE_RESOLUTION,
    dt: float | None = None,
) -> Recipe:
    """Vorticity (and, with ``diffusivity``, a passive scalar) of ``navier_stokes_2d``; ``dt`` defaults to its default step."""
    dt = record_every / round(record_every / (dt or default_time_step(solve_resolution, record_every)))
    if isinstance(forcing, str) and forcing not in FORCING_FORMULAS:
        raise ValueError(f"unknown forcing {forcing!r}; named forcings: {sorted(FORCING_FORMULAS)}, or a KolmogorovForcing, or None")
    forcing_formula = "none (decaying)" if forcing is None else forcing.formula if isinstance(forcing, KolmogorovForcing) else FORCING_FORMULAS[forcing]
    common = {"dt": dt, "scheme": _NS_SCHEME,
              "solve_resolution": solve_resolution, "record_every": record_every, "records": records,
              "store_resolution": store_resolution, "described": {"forcing": forcing_formula}}
    if diffusivity is None:
        return solver_recipe(navier_stokes_2d, initial={"vorticity": vorticity}, parameters={"viscosity": viscosity, "forcing": forcing}, **common)
    return solver_recipe(passive_scalar_2d, initial={"vorticity": vorticity, "scalar": scalar},
                         parameters={"viscosity": viscosity, "diffusivity": diffusivity, "forcing": forcing}, **common)


# ----------------------------------------------------------------------------------------------
# The table.


@dataclass(frozen=True)
class System:
    """One named system: a recipe builder and its settings, trajectories per split, shard size, role.

    ``recipe`` is ``build(**settings)``; ``recipe_with(**changes)`` builds a variant (a smaller grid
    or fewer records, for tests) of the same law. ``shard_size`` is also the solver's batch.
    """

    name: str
    build: Callable[..., Recipe]
    settings: dict[str, Any]
    trajectories: dict[str, int]
    shard_size: int = 25
    downstream: bool = False
    note: str = ""

    @property
    def recipe(self) -> Recipe:
        return self.build(**self.settings)

    def recipe_with(self, **changes: Any) -> Recipe:
        return self.build(**(self.settings | changes))

    @property
    def fields(self) -> list[str]:
        return list(self.recipe.fields)

    @property
    def frames(self) -> int:
        return self.settings["records"] + 1

    def pairs(self, split: str = "train") -> int:
        """Consecutive frame pairs ``(u(t), u(t + record_every))`` in ``split``."""
        return self.trajectories.get(split, 0) * (self.frames - 1)


def _shallow_water(*, tracer: bool) -> dict[str, Any]:
    """Settings of the shallow-water systems: depth 1 + bumps of std ~0.05, velocities of std ~0.1, g = 1.

    Twice these amplitudes steepen into bores that a 64x64 solve misses by up to 1.5% (against 128x128).
    """
    initial = {"height": RandomField(alpha=3.0, sigma=0.5 * 7.0**1.5, offset=1.0), "velocity_x": RandomField(sigma=7.0), "velocity_y": RandomField(sigma=7.0)}
    parameters = {"gravity": 1.0, "viscosity": 2e-3}
    if tracer:
        initial["tracer"] = RandomField()
        parameters["tracer_diffusivity"] = 2e-3
    # dt fixed (not the solver's per-batch default, which would make a sample depend on its shard):
    # Courant number dt n (|u| + |v| + 2 sqrt(g h)) ~ 0.45 at these amplitudes, refused above 1.
    return {"function": shallow_water_2d, "parameters": parameters, "dt": 0.0025, "initial": initial,
            "keyword_fields": {"tracer": "tracer0"} if tracer else None,
            "scheme": "pseudo-spectral, 2/3 dealiasing, integrating factor (exact diffusion) + RK4",
            "solve_resolution": 64, "record_every": 0.05, "records": 20}


def _systems() -> dict[str, System]:
    ns = navier_stokes_system
    every = {"record_every": 1.0, "records": 20}
    corpus = {"train": 260, "val": 8, "test": 32}
    expensive = {"train": 120, "val": 8, "test": 32}
    downstream = {"train": 256, "val": 16, "test": 32}
    fno_sigma = 7.0**1.5  # the FNO law's sigma: std(w0) ~ 0.26
    systems = [
        System("ns_nu1e-3_fno", ns, {"viscosity": 1e-3, "forcing": "fno", "solve_resolution": 64, **every}, corpus,
               note="The FNO paper's nu = 1e-3 setting; a 64x64 solve resolves it."),
        # Kolmogorov flows: the initial vorticity is scaled towards the forced state's level, so that
        # the first frames are not a pure spin-up from a field 10x weaker than the rest.
        System("ns_kolmogorov_k2", ns, {"viscosity": 1e-3, "forcing": KolmogorovForcing(1.0, 2), "solve_resolution": 64,
                                        "vorticity": RandomField(sigma=5 * fno_sigma), **every}, corpus,
               note="Kolmogorov shear forcing, two periods across y."),
        # Half the default step: at dt = 0.01 some of these strong initial fields blow up in the
        # first time unit (Heun is marginal on the imaginary axis at the fastest modes).
        System("ns_kolmogorov_k4", ns, {"viscosity": 1e-3, "forcing": KolmogorovForcing(4.0, 4), "solve_resolution": 64,
                                        "vorticity": RandomField(sigma=10 * fno_sigma), "dt": 0.005, **every}, corpus,
               note="Kolmogorov shear forcing, four periods across y."),
        System("ns_passive_scalar", ns, {"viscosity": 1e-3, "forcing": "fno", "solve_resolution": 64, "diffusivity": 1e-3, **every}, corpus,
               note="The nu = 1e-3 FNO flow carrying a passive scalar."),
        System("burgers", solver_recipe, {
            "function": burgers_2d, "parameters": {"viscosity": 0.01}, "dt": 0.003, "scheme": _BURGERS_SCHEME,
            "initial": {"velocity_x": RandomField(sigma=2 * fno_sigma), "velocity_y": RandomField(sigma=2 * fno_sigma)},
            "solve_resolution": 64, "record_every": 0.1, "records": 20}, corpus,
            note="Fronts of width ~ nu / |u| ~ 0.02 from velocities of std ~ 0.5; dt fixed (Courant number dt n (max|u| + max|v|) ~ 0.7 at a speed sum of 3.8, refused above 1)."),
        System("wave", solver_recipe, {
            "function": wave_2d, "parameters": {"speed": 0.5}, "dt": None, "scheme": "exact per Fourier mode (no time stepping)",
            # Equipartition: v0's law is c |k| times u0's, so displacement and rate carry comparable energy.
            "initial": {"displacement": RandomField(alpha=3.0, sigma=49.0), "displacement_rate": RandomField(alpha=2.0, sigma=0.5 * 49.0)},
            "solve_resolution": 64, "record_every": 0.05, "records": 20}, {"train": 480, "val": 8, "test": 32},
            note="u_tt = c^2 Laplacian(u) as (u, u_t); exact in time, so resolution-limited only by the initial fields."),
        System("boussinesq", solver_recipe, {
            "function": boussinesq_2d, "parameters": {"viscosity": 1e-3, "diffusivity": 1e-3, "gravity": 1.0}, "dt": 0.01,
            "scheme": _NS_SCHEME, "initial": {"vorticity": RandomField(), "buoyancy": RandomField(sigma=7.0)},
            "solve_resolution": 64, "record_every": 0.5, "records": 20}, corpus,
            note="Buoyancy-driven flow on the periodic square (gravity along -y, no walls, no background stratification)."),
        System("shallow_water", solver_recipe, _shallow_water(tracer=False), corpus,
               note="Gravity waves and their nonlinear steepening on a fluid of mean depth 1 (wave speed sqrt(g H) = 1)."),
        # Solved at 96x96 (~3x the cost of 64x64 per step): generated last, with fewer trajectories
        # (the exact, nearly free wave system has more to keep 50k pairs).
        # dt 0.005 rather than the default 1/150: by t = 20 this flow's speeds reach the Courant
        # numbers at which Heun, barely damped at nu = 1e-4, is unstable at the fastest modes.
        System("ns_nu1e-4_fno", ns, {"viscosity": 1e-4, "forcing": "fno", "solve_resolution": 96, "dt": 0.005, **every}, expensive,
               note="Solved at 96x96, whose 2/3-dealiased band is exactly the stored 64x64 grid's modes."),
        System("ns_decaying_nu1e-4", ns, {"viscosity": 1e-4, "forcing": None, "solve_resolution": 96, **every}, expensive,
               note="Freely decaying flow from the FNO initial law, solved at 96x96."),
        # Downstream (a): a viscosity and a forcing wavenumber of a corpus equation that the corpus never shows.
        System("ns_nu5e-4_kolmogorov_k3", ns, {"viscosity": 5e-4, "forcing": KolmogorovForcing(1.0, 3), "solve_resolution": 64,
                                               "vorticity": RandomField(sigma=5 * fno_sigma), **every},
               downstream, downstream=True, note="Transfer target (a): a new viscosity and forcing wavenumber of the NS equation."),
        # Downstream (b): physics the corpus lacks.
        System("gray_scott", solver_recipe, {
            "function": gray_scott_2d, "parameters": {"feed": 0.04, "kill": 0.06, "diffusivity_a": 1e-4, "diffusivity_b": 5e-5}, "dt": 0.5,
            "scheme": "pseudo-spectral, Crank-Nicolson diffusion + Heun reactions (2/3 rule on a b^2)",
            "initial": {"substrate": RandomField(sigma=0.0, offset=1.0), "autocatalyst": SmoothStep(value=0.25, level=0.4, width=0.1)},
            "solve_resolution": 64, "record_every": 50.0, "records": 20}, downstream, downstream=True,
            note="Transfer target (b): reaction-diffusion, physics outside the corpus (Pearson 1993 spots/stripes regime)."),
        # Downstream (c): a field count (4) the corpus lacks.
        System("shallow_water_tracer", solver_recipe, _shallow_water(tracer=True), downstream, downstream=True,
               note="Transfer target (c): the corpus's shallow water carrying a passive tracer, four fields."),
    ]
    return {system.name: system for system in systems}


SYSTEMS: dict[str, System] = _systems()


def corpus_systems(*, downstream: bool = False) -> list[System]:
    """The pretraining systems (``downstream=False``) or the transfer targets (``True``)."""
    return [system for system in SYSTEMS.values() if system.downstream == downstream]


# ----------------------------------------------------------------------------------------------
# Seeds.


def dataset_seed(root: int, system: str, split: str) -> int:
    """The ``zoo.data.generate`` seed of ``system``'s ``split``: a 31-bit hash of (root, system, split)."""
    return zlib.crc32(f"zoo-corpus/{root}/{system}/{split}".encode()) % 2**31


def check_seed_streams(root: int, systems: Sequence[System] | None = None) -> None:
    """Raise ``ValueError`` if two data sets of ``systems`` (every split) could share a sample seed.

    Data set ``s`` with ``n`` samples uses the 32-bit seeds ``s * SEED_STRIDE + [0, n)`` (mod 2^32):
    an interval on the circle of 2^32 integers, so pairwise disjoint intervals mean disjoint seeds.
    """
    intervals = sorted(
        ((dataset_seed(root, system.name, split) * SEED_STRIDE) % 2**32, count, f"{system.name}/{split}")
        for system in (SYSTEMS.values() if systems is None else systems)
        for split, count in system.trajectories.items()
    )
    for (start, count, name), (next_start, _, next_name) in zip(intervals, intervals[1:] + [(intervals[0][0] + 2**32, 0, intervals[0][2])]):
        if start + count > next_start:
            raise ValueError(f"root seed {root}: sample seeds of {name} and {next_name} overlap; choose another root seed")


# ----------------------------------------------------------------------------------------------
# Generation, statistics and data cards.


def generate_corpus(
    root: Path,
    *,
    systems: Sequence[str] | None = None,
    splits: Sequence[str] = SPLITS,
    seed: int = ROOT_SEED,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate (or resume) ``systems`` (default: every system, corpus first) split by split into ``root``.

    Finished shards are kept; each finished split gets its statistics, each system its
    ``DATACARD.md``, and ``root/corpus.json`` is rewritten after every split. A system whose solver
    fails is reported and skipped, and the run raises at the end naming it. Returns the table.
    """
    root = Path(root)
    names = list(systems) if systems is not None else [s.name for s in corpus_systems()] + [s.name for s in corpus_systems(downstream=True)]
    unknown = sorted(set(names) - set(SYSTEMS))
    if unknown:
        raise ValueError(f"unknown systems {unknown}; the corpus has {sorted(SYSTEMS)}")
    check_seed_streams(seed)
    failures: list[str] = []
    for name in names:
        system = SYSTEMS[name]
        for split in splits:
            count = system.trajectories.get(split)
            if not count:
                continue
            directory = root / name / split
            began = time.perf_counter()
            try:
                generate(directory, system.recipe, samples=count, seed=dataset_seed(seed, name, split), shard_size=system.shard_size,
                         command=f"zoo.data.corpus.generate_corpus(root, systems=[{name!r}], splits=[{split!r}], seed={seed})",
                         progress=progress)
            except (FloatingPointError, ValueError) as error:  # a solver blew up or refused: the other systems still run
                failures.append(f"{name}/{split}: {error}")
                tqdm.write(f"{name}/{split} FAILED: {error}")
                break
            if progress:
                tqdm.write(f"{name}/{split}: {count} trajectories ready ({time.perf_counter() - began:.0f} s this run)")
            _write_statistics(directory)
            write_data_card(root, system, seed)
            write_corpus_table(root, seed)
    if failures:
        raise RuntimeError(f"{len(failures)} split(s) failed, the rest are generated: " + "; ".join(failures))
    return json.loads((root / "corpus.json").read_text())


def _write_statistics(directory: Path) -> dict[str, Any]:
    """Per-field mean/std/min/max over every frame of a finished split, and its solve time; cached in stats.json."""
    path = directory / "stats.json"
    manifest = json.loads((directory / "dataset.json").read_text())
    ranges = shard_ranges(manifest["samples"], manifest["shard_size"])
    if path.is_file():
        stats = json.loads(path.read_text())
        if stats.get("samples") == manifest["samples"]:
            return stats
    sums: dict[str, list[float]] = {}
    seconds = 0.0
    for index, (start, stop) in enumerate(ranges):
        fields, metadata = read_shard(directory / shard_name(index))
        seconds += metadata["shard"]["seconds"]
        for name, values in fields.items():
            v = values.double()
            s = sums.setdefault(name, [0.0, 0.0, 0, math.inf, -math.inf])
            s[0] += float(v.sum()); s[1] += float((v * v).sum()); s[2] += v.numel()
            s[3] = min(s[3], float(v.min())); s[4] = max(s[4], float(v.max()))
    fields_stats = {}
    for name, (total, squares, count, low, high) in sums.items():
        mean = total / count
        fields_stats[name] = {"mean": mean, "std": math.sqrt(max(squares / count - mean**2, 0.0)), "min": low, "max": high}
    stats = {"samples": manifest["samples"], "fields": fields_stats, "solve_seconds": round(seconds, 1)}
    atomic_write_text(path, json.dumps(stats, indent=2) + "\n")
    return stats


def _split_status(root: Path, system: System, seed: int) -> dict[str, Any]:
    """Per split: path, seed, trajectories asked and generated; statistics once finished."""
    status = {}
    for split, count in system.trajectories.items():
        directory = root / system.name / split
        stats_path = directory / "stats.json"
        stats = json.loads(stats_path.read_text()) if stats_path.is_file() else None
        if stats is None or stats["samples"] != count:
            ranges = shard_ranges(count, system.shard_size)
            done = sum(stop - start for i, (start, stop) in enumerate(ranges) if shard_samples(directory / shard_name(i)) == (start, stop))
            stats = {"samples": count, "generated": done}
        else:
            stats = stats | {"generated": count}
        status[split] = {"path": f"{system.name}/{split}", "seed": dataset_seed(seed, system.name, split), **stats}
    return status


def write_corpus_table(root: Path, seed: int = ROOT_SEED) -> None:
    """``root/corpus.json``: every system, its fields, shapes, splits (seeds, progress, statistics)."""
    table = {"root_seed": seed, "store_resolution": STORE_RESOLUTION, "axes": AXES, "systems": {}}
    for system in SYSTEMS.values():
        splits = _split_status(root, system, seed)
        table["systems"][system.name] = {
            "downstream": system.downstream,
            "equation": system.recipe.equation,
            "fields": system.fields,
            "frames": system.frames,
            "record_every": system.recipe.description["times"][1],
            "shape_per_trajectory": [system.frames, STORE_RESOLUTION, STORE_RESOLUTION],
            "parameters": system.recipe.description["parameters"],
            "solver": system.recipe.description["solver"],
            "splits": splits,
            "note": system.note,
        }
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / "corpus.json", json.dumps(table, indent=2) + "\n")


def write_data_card(root: Path, system: System, seed: int = ROOT_SEED) -> None:
    """``root/<system>/DATACARD.md`` from the recipe and whatever splits have finished."""
    d = system.recipe.description
    solver = d["solver"]
    lines = [
        f"# {system.name}",
        "",
        f"{'Downstream transfer target (never in the pretraining corpus)' if system.downstream else 'Pretraining corpus system'}"
        f" of zoo's multi-physics corpus (issue #16). {system.note}".rstrip(),
        "",
        f"- Equation: `{system.recipe.equation}`; parameters: {json.dumps(d['parameters'])}",
        f"- Fields: {', '.join(f'`{f}`' for f in system.fields)}, each stored as (trajectories, {system.frames}, "
        f"{STORE_RESOLUTION}, {STORE_RESOLUTION}) float32, axes {AXES} (x = axis -2, y = axis -1, x_i = i / n on [0, 1)^2, periodic)",
        f"- Times: t = 0, {d['times'][1]:g}, ..., {d['times'][-1]:g} ({system.frames} frames, {system.frames - 1} pairs per trajectory)",
        f"- Initial conditions (drawn per sample in this order, on the solve grid): {json.dumps(d['initial_condition'])}",
        f"- Solver: `{solver['function']}`, {solver['scheme']}, dt = {'exact (no steps)' if solver['dt'] is None else format(solver['dt'], 'g')}, float32, solved at "
        f"{solver['resolution']}x{solver['resolution']}, stored at {STORE_RESOLUTION}x{STORE_RESOLUTION} ({solver['storage']})",
        f"- Seeds: root seed {seed}; split seed = `zoo.data.corpus.dataset_seed({seed}, {system.name!r}, split)`, sample i's "
        "generator = `torch.Generator().manual_seed(zoo.data.generate.sample_seed(split_seed, i))`",
        "",
        "| split | trajectories | generated | seed | solve time (s) |",
        "|---|---|---|---|---|",
    ]
    status = _split_status(root, system, seed)
    for split, s in status.items():
        lines.append(f"| {split} | {s['samples']} | {s['generated']} | {s['seed']} | {s.get('solve_seconds', '')} |")
    lines += ["", "Per-field statistics over every frame of the split:", "", "| split | field | mean | std | min | max |", "|---|---|---|---|---|---|"]
    for split, s in status.items():
        for name, f in s.get("fields", {}).items():
            lines.append(f"| {split} | {name} | {f['mean']:.4g} | {f['std']:.4g} | {f['min']:.4g} | {f['max']:.4g} |")
    lines += ["", "Solve time: wall-clock seconds of the solver summed over shards, one thread, on a shared machine (compare with care).",
              "Quick look: `frames.png` beside this card (test trajectory 0; `python recipes/corpus.py OUT --plots`)."]
    (root / system.name).mkdir(parents=True, exist_ok=True)
    atomic_write_text(root / system.name / "DATACARD.md", "\n".join(lines) + "\n")


def corpus_markdown(root: Path) -> str:
    """The corpus table of ``root/corpus.json`` as Markdown (for docs/corpus.md)."""
    table = json.loads((Path(root) / "corpus.json").read_text())
    lines = [
        "| system | role | equation | fields | parameters | solved -> stored | dt | record_every x frames | train / val / test | train pairs | generated | solve time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in table["systems"].items():
        splits = s["splits"]
        counts = " / ".join(str(splits[k]["samples"]) for k in SPLITS if k in splits)
        generated = " / ".join(str(splits[k]["generated"]) for k in SPLITS if k in splits)
        seconds = sum(splits[k].get("solve_seconds", 0.0) for k in splits)
        complete = all(splits[k]["generated"] == splits[k]["samples"] for k in splits)
        solver = s["solver"]
        parameters = ", ".join(f"{k} = {v}" for k, v in s["parameters"].items())
        dt = "exact" if solver["dt"] is None else f"{solver['dt']:g}"
        lines.append(
            f"| {name} | {'downstream' if s['downstream'] else 'corpus'} | `{s['equation']}` | {', '.join(s['fields'])} | {parameters} "
            f"| {solver['resolution']} -> {table['store_resolution']} | {dt} | {s['record_every']:g} x {s['frames']} | {counts} "
            f"| {splits['train']['samples'] * (s['frames'] - 1)} | {generated} | {seconds:.0f}{'' if complete else ' (so far)'} |"
        )
    return "\n".join(lines) + "\n"
