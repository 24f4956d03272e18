"""The slider grids of notebook 03's part 2 (the network panels (c)-(h)) and what the bank
holds for them.

Every slider of those panels steps through a grid (:class:`SliderGrid`: ``positions``, a few
values per slider from the notebook's parameters), so a release always lands on a grid value.
The bank (:mod:`aeos_lab.engine.bank`) holds the runs of the settings in ``settings``: the
paper's one-axis-at-a-time sweeps (Fig. 1's eta, beta1 and beta2; Fig. 5's per-optimizer
learning rates), a full product only where it is cheap ((c): one 600-step run per setting),
and the expensive windows of (e) only at their own etas. ``needs(P, setting)`` lists the runs
a panel shows at a setting (its ready test, its status line and :func:`bank_runs` use it);
:data:`SLIDER_GRIDS` pairs them per section.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

from aeos_lab.engine import runs
from aeos_lab.engine.config import RunConfig
from aeos_lab.lessons.nb02_frozen_adam.experiments import frozen_sweep_configs
from aeos_lab.lessons.nb03_adam_aeos.experiments import (
    cnn_base,
    cnn_configs,
    corner_base,
    corner_configs,
    equilibrium_base,
    equilibrium_configs,
    equilibrium_grid,
    fig8_base,
    optimizer_base,
    optimizer_configs,
    zoom_config,
    zoom_start,
)
from aeos_lab.lessons.nb03_adam_aeos.params import Params

__all__ = [
    "SLIDER_GRIDS",
    "SliderGrid",
    "bank_runs",
    "cnn_needs",
    "cnn_slider_grid",
    "corner_needs",
    "corner_slider_grid",
    "equilibrium_needs",
    "equilibrium_slider_grid",
    "optimizer_needs",
    "optimizer_slider_grid",
    "raw_rise_needs",
    "raw_rise_slider_grid",
    "with_betas",
    "zoom_needs",
    "zoom_slider_grid",
]

# Part 2's slider grids, and what the bank holds for them


@dataclass(frozen=True)
class SliderGrid:
    """One panel's grid sliders and the settings the bank holds for it. ``positions``: slider
    name -> its values (every release lands on one); ``settings``: the settings (slider name
    -> value) whose runs ``experiments.bank_runs`` lists, each made of positions; ``start``:
    where the sliders start. Any other combination of positions trains on Run."""

    positions: dict[str, tuple]
    settings: tuple[dict, ...]
    start: dict


def _grid(positions: dict, start: dict, settings) -> SliderGrid:
    unique = list({tuple(sorted(s.items())): s for s in settings}.values())
    return SliderGrid({k: tuple(v) for k, v in positions.items()}, tuple(unique), dict(start))


def with_betas(base: RunConfig, setting: dict) -> RunConfig:
    """``base`` with the setting's beta1 and beta2."""
    return base.replace(beta1=setting["beta1"], beta2=setting["beta2"])


def equilibrium_slider_grid(P: Params) -> SliderGrid:
    """(c): eta over ``P.eq_slider_etas``, beta1 and beta2 over the sweeps' values; the bank
    holds the full product (each setting adds one run to the seven of the sweeps)."""
    axes = {"eta": P.eq_slider_etas, "beta1": P.eq_beta1s, "beta2": P.eq_beta2s}
    settings = [dict(zip(axes, v, strict=True)) for v in product(*axes.values())]
    return _grid(axes, {"eta": P.eq_eta, "beta1": P.beta1, "beta2": P.beta2}, settings)


def equilibrium_needs(P: Params, setting: dict) -> list[RunConfig]:
    """The runs (c) shows at ``setting``: the sweeps and the selected run."""
    grid = equilibrium_grid(P)
    selected = grid.snap(setting["eta"], setting["beta1"], setting["beta2"])
    return equilibrium_configs(equilibrium_base(P), grid, selected)


def raw_rise_slider_grid(P: Params) -> SliderGrid:
    """(d): eta over ``P.fig8_etas`` (each one the run drawn bold), beta1 and beta2 over
    ``P.fig8_beta1s`` and ``P.fig8_beta2s``; the bank holds every eta along the star of the
    betas through (``P.beta1``, ``P.fig8_beta2``), the grid of notebook 02's (d)."""
    center = {"beta1": P.beta1, "beta2": P.fig8_beta2}
    stars = runs.star(center, {"beta1": P.fig8_beta1s, "beta2": P.fig8_beta2s})
    positions = {"eta": P.fig8_etas, "beta1": P.fig8_beta1s, "beta2": P.fig8_beta2s}
    settings = [{"eta": e, **s} for s in stars for e in P.fig8_etas]
    return _grid(positions, {"eta": P.fig8_etas[0], **center}, settings)


def raw_rise_needs(P: Params, setting: dict) -> list[RunConfig]:
    """The runs (d) shows at ``setting``: notebook 02's frozen sweep over ``P.fig8_etas``."""
    return frozen_sweep_configs(
        with_betas(fig8_base(P), setting),
        P.fig8_etas,
        freeze_at=P.freeze_at,
        freeze_eta=P.freeze_eta,
        selected=runs.snap(setting["eta"], P.fig8_etas),
    )


def zoom_slider_grid(P: Params) -> SliderGrid:
    """(e): eta over the windows' etas, beta1 and beta2 over ``P.zoom_beta1s`` and
    ``P.zoom_beta2s``; a window costs ~200 measurements, so the bank holds only each eta at
    (``P.beta1``, ``P.fig8_beta2``)."""
    etas = [eta for eta, _ in P.zoom_starts]
    center = {"beta1": P.beta1, "beta2": P.fig8_beta2}
    positions = {"eta": etas, "beta1": P.zoom_beta1s, "beta2": P.zoom_beta2s}
    return _grid(positions, {"eta": etas[0], **center}, [{"eta": e, **center} for e in etas])


def zoom_needs(P: Params, setting: dict) -> list[RunConfig]:
    """The run (e) shows at ``setting``."""
    eta = setting["eta"]
    start = zoom_start(P.zoom_starts, eta)
    return [zoom_config(with_betas(fig8_base(P), setting), eta, start, P.zoom_length, P.zoom_k)]


def optimizer_slider_grid(P: Params) -> SliderGrid:
    """(f): the optimizer picker, eta over every learning rate of ``P.opt_etas`` (Fig. 5's
    per-optimizer rates), beta1 and beta2 over ``P.opt_beta1s`` and ``P.opt_beta2s``. The bank
    holds every optimizer at every one of those etas at (``P.beta1``, ``P.beta2``), Fig. 5's
    betas (App. G); other betas retrain all sixteen runs of the grid on Run."""
    etas = sorted({e for _, rates in P.opt_etas for e in rates})
    center = {"beta1": P.beta1, "beta2": P.beta2}
    settings = [
        {"optimizer": label, "eta": eta, **center} for label, _ in P.opt_etas for eta in etas
    ]
    positions = {"eta": etas, "beta1": P.opt_beta1s, "beta2": P.opt_beta2s}
    first = P.opt_etas[0]
    return _grid(positions, {"optimizer": first[0], "eta": first[1][0], **center}, settings)


def optimizer_needs(P: Params, setting: dict) -> list[RunConfig]:
    """The runs (f) shows at ``setting``: Fig. 5's grid and the chosen (optimizer, eta)."""
    label = setting["optimizer"]
    chosen = (label, runs.snap(setting["eta"], dict(P.opt_etas)[label]))
    return optimizer_configs(with_betas(optimizer_base(P), setting), P.opt_etas, chosen)


def corner_slider_grid(P: Params) -> SliderGrid:
    """(g): eta over ``P.corner_etas``, beta1 and beta2 over ``P.corner_beta1s`` and
    ``P.corner_beta2s``; the bank holds every eta at (``P.beta1``, ``P.beta2``) and the star
    of the betas at ``P.corner_eta``."""
    center = {"beta1": P.beta1, "beta2": P.beta2}
    stars = runs.star(center, {"beta1": P.corner_beta1s, "beta2": P.corner_beta2s})
    settings = [{"eta": e, **center} for e in P.corner_etas]
    settings += [{"eta": P.corner_eta, **s} for s in stars]
    positions = {"eta": P.corner_etas, "beta1": P.corner_beta1s, "beta2": P.corner_beta2s}
    return _grid(positions, {"eta": P.corner_eta, **center}, settings)


def corner_needs(P: Params, setting: dict) -> list[RunConfig]:
    """The two runs (g) shows at ``setting``."""
    base = with_betas(corner_base(P), setting)
    return corner_configs(base, setting["eta"], freeze_at=P.corner_freeze)


def cnn_slider_grid(P: Params) -> SliderGrid:
    """(h): eta over ``P.cnn_slider_etas`` (one run added to ``P.cnn_etas``), beta1 and beta2
    over ``P.cnn_beta1s`` and ``P.cnn_beta2s``; the bank holds every eta at (``P.beta1``,
    ``P.beta2``)."""
    center = {"beta1": P.beta1, "beta2": P.beta2}
    positions = {"eta": P.cnn_slider_etas, "beta1": P.cnn_beta1s, "beta2": P.cnn_beta2s}
    settings = [{"eta": e, **center} for e in P.cnn_slider_etas]
    return _grid(positions, {"eta": P.cnn_etas[0], **center}, settings)


def cnn_needs(P: Params, setting: dict) -> list[RunConfig]:
    """The runs (h) shows at ``setting``."""
    return cnn_configs(with_betas(cnn_base(P), setting), P.cnn_etas, setting["eta"])


SLIDER_GRIDS: dict[str, tuple[Callable, Callable]] = {
    "c": (equilibrium_slider_grid, equilibrium_needs),
    "d": (raw_rise_slider_grid, raw_rise_needs),
    "e": (zoom_slider_grid, zoom_needs),
    "f": (optimizer_slider_grid, optimizer_needs),
    "g": (corner_slider_grid, corner_needs),
    "h": (cnn_slider_grid, cnn_needs),
}
"""Part 2's panels by section: (the panel's :class:`SliderGrid` of ``P``, the runs it shows at
a setting: ``needs(P, setting)``)."""


def bank_runs(P: Params) -> list[RunConfig]:
    """Every run part 2's panels show at every setting the bank holds for them
    (:data:`SLIDER_GRIDS`), without repeats."""
    configs = [
        config
        for grid_of, needs in SLIDER_GRIDS.values()
        for setting in grid_of(P).settings
        for config in needs(P, setting)
    ]
    return list({c.key(): c for c in configs}.values())
