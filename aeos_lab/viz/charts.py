"""Altair chart builders with one look for every notebook.

Every builder takes a tidy :class:`pandas.DataFrame` (one row per point) and returns a plain
Altair chart built on data frames, so it can be shown, saved, layered or concatenated as usual.
:class:`aeos_lab.widgets.LiveChart` rebuilds a chart from new data and, when only the data
changed, swaps just the datasets of the chart already on screen (no re-render, no flicker).

Conventions shared by all builders:

* colours keyed to the learning rate use :func:`eta_color`: a sequential scheme over a log
  scale of ``eta``, so the same ``eta`` gets the same colour in every chart that shares the
  domain (pass ``eta_domain`` to fix it, e.g. to the range of an ``eta`` slider);
* stability thresholds are dashed horizontal rules labelled ``"<formula> = <value>"``, for
  example ``"38/η = 3.8e4"`` (:func:`threshold_frame`, :func:`threshold_layer`);
* long training logs are thinned by :func:`downsample` (every k-th step per series, first and
  last points kept) to at most :data:`MAX_ROWS` rows per dataset;
* fonts, sizes and the categorical palette come from one theme, :func:`theme`, registered with
  Altair as ``"aeos_lab"`` and enabled when this module is imported.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from aeos_lab.core.formatting import format_sci

MAX_ROWS = 5000
"""Row cap per dataset (Altair's own default limit for data frames)."""

THEME_NAME = "aeos_lab"
ETA_SCHEME = {"name": "viridis", "extent": [0.0, 0.85]}
"""Sequential scheme for eta (the bright yellow end is cut off: it is unreadable on white)."""
HEATMAP_SCHEME = "blueorange"
THRESHOLD_DASH = [6, 4]
NEUTRAL_COLOR = "#333333"

__all__ = [
    "MAX_ROWS",
    "downsample",
    "eta_color",
    "format_sci",
    "line_chart",
    "ratio_chart",
    "stability_heatmap",
    "theme",
    "threshold_frame",
    "threshold_layer",
    "use_theme",
]


# --------------------------------------------------------------------------- theme and helpers


def theme() -> dict:
    """The Vega-Lite ``config`` shared by every chart of the suite (sizes, fonts, palette)."""
    return {
        "config": {
            "view": {"continuousWidth": 380, "continuousHeight": 240},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridOpacity": 0.6},
            "legend": {"labelFontSize": 11, "titleFontSize": 12},
            "title": {"fontSize": 14, "anchor": "start"},
            "line": {"strokeWidth": 1.8},
            "range": {"category": {"scheme": "tableau10"}},
        }
    }


def use_theme() -> None:
    """Register :func:`theme` with Altair as ``"aeos_lab"`` and enable it (done on import)."""
    alt.theme.register(THEME_NAME, enable=True)(theme)


use_theme()


SCI_LABEL = "replace(format(datum.value, '.0e'), 'e+', 'e')"
"""Vega expression for compact scientific labels (1e-3, 1e0, 1e2)."""
DECADE_LABEL = (
    f"abs(log(datum.value) / LN10 - round(log(datum.value) / LN10)) < 1e-6 ? {SCI_LABEL} : ''"
)
"""Like :data:`SCI_LABEL` but only at powers of ten (log axes get crowded otherwise)."""
_MANTISSA = "(datum.value / pow(10, floor(log(datum.value) / LN10 + 1e-9)))"
COMPACT_LABEL = (
    f"abs({_MANTISSA} - 1) < 1e-6 || abs({_MANTISSA} - 2) < 1e-6 || abs({_MANTISSA} - 5) < 1e-6"
    f" ? (datum.value >= 1e4 || datum.value < 1e-2 ? {SCI_LABEL} : format(datum.value, '~g'))"
    " : ''"
)
"""Log-axis labels at 1, 2 and 5 times powers of ten only: plain from 1e-2 to 1e4, compact
scientific outside (as :func:`format_sci`), e.g. 1e-4, 0.02, 50, 1e12."""


def _scale(log: bool, nice: bool = True) -> alt.Scale:
    if log:
        return alt.Scale(type="log", nice=nice)
    return alt.Scale(zero=False, nice=nice)


def _axis(log: bool) -> alt.Axis:
    return alt.Axis(labelExpr=DECADE_LABEL) if log else alt.Axis()


# --------------------------------------------------------------------------- data preparation


def downsample(
    frame: pd.DataFrame,
    *,
    x: str | None = "step",
    by: Sequence[str] = (),
    max_rows: int = MAX_ROWS,
) -> pd.DataFrame:
    """Keep every k-th row of each series (sorted by ``x``), always with its first and last row.

    A series is one combination of the ``by`` columns. The stride k is the smallest one that
    leaves at most ``max_rows`` rows in total; frames that already fit are returned unchanged.
    Rows keep their original order. Raises ValueError when even first/last points per series
    exceed ``max_rows``.
    """
    if len(frame) <= max_rows:
        return frame
    ordered = frame.reset_index(drop=True)  # labels = positions, even for duplicate indexes
    if x is not None:
        ordered = ordered.sort_values(x, kind="stable")
    if by:
        groups = ordered.groupby(list(by), sort=False, dropna=False)
        group_id = groups.ngroup().to_numpy()
        position = groups.cumcount().to_numpy()
    else:
        group_id = np.zeros(len(ordered), dtype=int)
        position = np.arange(len(ordered))
    sizes = np.bincount(group_id)

    def kept(stride: int) -> int:
        return int(np.sum(-(-sizes // stride) + ((sizes - 1) % stride != 0)))

    low, high = 1, int(sizes.max())
    if kept(high) > max_rows:
        raise ValueError(
            f"max_rows must be >= {kept(high)} to keep the first and last point of each of "
            f"the {len(sizes)} series, got {max_rows}"
        )
    while low < high:  # smallest stride whose row count fits
        mid = (low + high) // 2
        low, high = (low, mid) if kept(mid) <= max_rows else (mid + 1, high)
    keep = (position % low == 0) | (position == sizes[group_id] - 1)
    return frame.iloc[np.sort(ordered.index[keep])]


def main_layer(chart):
    """The first layer of a layered chart (the data lines), or the chart itself."""
    return chart.layer[0] if isinstance(chart, alt.LayerChart) else chart


def threshold_frame(value, formula: str, *, eta=None, **columns) -> pd.DataFrame:
    """Rows for dashed threshold lines: columns ``threshold``, ``label`` (and ``eta``, ...).

    ``value`` is one threshold or one per row (e.g. one per eta); ``label`` reads
    ``"<formula> = <value>"``, e.g. ``threshold_frame(38 / 1e-3, "38/η")`` labels
    ``"38/η = 3.8e4"``. Extra keyword columns (broadcast) identify the series a line belongs to.
    """
    data = {"threshold": value, **columns}
    if eta is not None:
        data["eta"] = eta
    arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v)) for v in data.values()))
    frame = pd.DataFrame(dict(zip(data, arrays, strict=True)))
    frame["threshold"] = frame["threshold"].astype(float)
    frame["label"] = [f"{formula} = {format_sci(v)}" for v in frame["threshold"]]
    return frame


# --------------------------------------------------------------------------- encodings and layers


def eta_color(
    field: str = "eta", *, domain: Sequence[float] | None = None, legend: bool = True
) -> alt.Color:
    """Colour keyed to the learning rate: :data:`ETA_SCHEME` over a log scale of ``field``.

    Give the same ``domain`` (min, max) to every chart that should colour eta alike.
    """
    scale = alt.Scale(type="log", scheme=ETA_SCHEME)
    if domain is not None:
        scale = alt.Scale(type="log", scheme=ETA_SCHEME, domain=[float(d) for d in domain])
    if not legend:
        return alt.Color(f"{field}:Q", scale=scale, legend=None)
    return alt.Color(
        f"{field}:Q", scale=scale, title="η", legend=alt.Legend(labelExpr=DECADE_LABEL)
    )


def _color(field: str | None, eta_domain, legend: bool = True) -> alt.Color | alt.ColorValue:
    if field is None:
        return alt.ColorValue(NEUTRAL_COLOR)
    if field == "eta":
        return eta_color(field, domain=eta_domain, legend=legend)
    return alt.Color(f"{field}:N", title=field)


def threshold_layer(
    thresholds: pd.DataFrame,
    *,
    y_title: str | None = None,
    log_y: bool = False,
    eta_domain: Sequence[float] | None = None,
) -> alt.LayerChart:
    """Dashed horizontal rule per row of ``thresholds`` plus its text label at the left edge.

    Labels sit on the left, where sharpness curves usually still lie below their threshold.

    ``thresholds`` comes from :func:`threshold_frame`. With an ``eta`` column, each rule takes
    the eta colour of its run; otherwise it is drawn in a neutral dark grey. Labels are always
    dark grey: coloured text would turn the shared eta legend into a symbol legend.
    """
    color = _color("eta" if "eta" in thresholds else None, eta_domain)
    y = alt.Y("threshold:Q", title=y_title, scale=_scale(log_y))
    base = alt.Chart(thresholds).encode(y=y)
    rule = base.mark_rule(strokeDash=THRESHOLD_DASH, strokeWidth=1.5).encode(color=color)
    text = base.mark_text(
        align="left", baseline="bottom", dx=4, dy=-2, fontSize=11, color=NEUTRAL_COLOR
    ).encode(x=alt.XValue(0), text=alt.Text("label:N"))
    return alt.layer(rule, text)


# --------------------------------------------------------------------------- chart builders


def line_chart(
    data: pd.DataFrame,
    *,
    x: str = "step",
    y: str = "value",
    color: str | None = "eta",
    detail: Sequence[str] = (),
    log_x: bool = False,
    log_y: bool = False,
    thresholds: pd.DataFrame | float | None = None,
    formula: str = "threshold",
    eta_domain: Sequence[float] | None = None,
    points: bool = False,
    title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    max_rows: int = MAX_ROWS,
) -> alt.Chart | alt.LayerChart:
    """Lines of ``y`` against ``x``, one per series, optionally with threshold rules.

    A series is one value of ``color`` (and of the ``detail`` columns). ``color="eta"`` uses
    :func:`eta_color`; any other column gets the categorical palette; ``None`` draws one
    colour. ``thresholds`` is a :func:`threshold_frame` or one number (labelled with
    ``formula``). On a log axis, non-positive values are dropped. Use it for trajectories
    (``x_t`` vs step), sharpness vs step (``log_y=True``) and loss curves.
    """
    series = [c for c in (color, *detail) if c is not None]
    frame = downsample(data[[x, y, *series]], x=x, by=series, max_rows=max_rows)
    x_title = x if x_title is None else x_title
    y_title = y if y_title is None else y_title
    encoding = {
        "x": alt.X(f"{x}:Q", title=x_title, scale=_scale(log_x), axis=_axis(log_x)),
        "y": alt.Y(
            f"{y}:Q",
            title=y_title,
            scale=_scale(log_y),
            axis=alt.Axis(labelExpr=COMPACT_LABEL) if log_y else alt.Axis(),
        ),
        "color": _color(color, eta_domain),
        "detail": [alt.Detail(f"{c}:N") for c in series],
        "tooltip": [
            alt.Tooltip(f"{x}:Q"),
            alt.Tooltip(f"{y}:Q", format=".4g"),
            *(alt.Tooltip(f"{c}:N") for c in series),
        ],
    }
    chart = alt.Chart(frame).mark_line(point=points).encode(**encoding)
    for field, log in ((x, log_x), (y, log_y)):
        if log:
            chart = chart.transform_filter(alt.datum[field] > 0)
    if thresholds is not None:
        if not isinstance(thresholds, pd.DataFrame):
            thresholds = threshold_frame(thresholds, formula)
        rules = threshold_layer(thresholds, y_title=y_title, log_y=log_y, eta_domain=eta_domain)
        chart = alt.layer(chart, rules)
    return chart.properties(title=title) if title else chart


def ratio_chart(
    data: pd.DataFrame,
    *,
    x: str = "step",
    y: str = "ratio",
    label: str = "sharpness / threshold",
    log_y: bool = False,
    **kwargs,
) -> alt.LayerChart:
    """Lines of a ratio (e.g. sharpness / threshold) against a dashed constant rule at 1.

    The rule is labelled ``"<label> = 1"``. Other keywords go to :func:`line_chart`.
    """
    kwargs.setdefault("y_title", label)
    return line_chart(data, x=x, y=y, log_y=log_y, thresholds=threshold_frame(1.0, label), **kwargs)


def _cell_edges(centres: np.ndarray, log: bool) -> tuple[dict, dict]:
    """Lower and upper cell edges for grid centres (geometric midpoints on a log axis)."""
    grid = np.unique(centres)
    coords = np.log(grid) if log else grid
    if len(grid) == 1:
        mids = np.array([coords[0] - 0.5, coords[0] + 0.5])
    else:
        inner = (coords[1:] + coords[:-1]) / 2
        mids = np.concatenate([[2 * coords[0] - inner[0]], inner, [2 * coords[-1] - inner[-1]]])
    edges = np.exp(mids) if log else mids
    return dict(zip(grid, edges[:-1], strict=True)), dict(zip(grid, edges[1:], strict=True))


def stability_heatmap(
    data: pd.DataFrame,
    *,
    x: str = "eta_lambda",
    y: str = "beta1",
    value: str = "max_abs_x",
    boundary: pd.DataFrame | None = None,
    log_x: bool = True,
    log_y: bool = False,
    color_domain: tuple[float, float] = (1e-2, 1e2),
    title: str | None = None,
    x_title: str = "η·λ",
    y_title: str = "β₁",
    value_title: str = "max |x|",
) -> alt.Chart | alt.LayerChart:
    """Heatmap of ``value`` over a grid of (``x``, ``y``) with an optional boundary line on top.

    Each grid point becomes a cell reaching halfway to its neighbours (geometric halfway on a
    log axis). Colour: a diverging scheme on a log scale centred at 1 (blue: the iterate
    shrank, orange: it grew), clamped to ``color_domain``; NaN and +-inf (diverged runs) take
    the top colour. ``boundary`` has columns ``x`` and ``y`` and is drawn in row order, e.g. the
    closed-form threshold eta*lambda = (2 + 2 beta1) / (1 - beta1) against beta1. Altair
    refuses more than 5000 cells (MaxRowsError): keep grids at or below e.g. 80 x 60.
    """
    frame = data[[x, y, value]].copy()
    for field, log in ((x, log_x), (y, log_y)):
        low, high = _cell_edges(frame[field].to_numpy(), log)
        frame[f"{field}_lo"] = frame[field].map(low)
        frame[f"{field}_hi"] = frame[field].map(high)
    cleaned = frame[value].replace([np.inf, -np.inf], np.nan).fillna(color_domain[1])
    frame[value] = cleaned.clip(*color_domain)
    legend = alt.Legend(labelExpr=SCI_LABEL)
    scale = alt.Scale(
        type="log", scheme=HEATMAP_SCHEME, domain=list(color_domain), domainMid=1.0, clamp=True
    )
    cells = (
        alt.Chart(frame)
        .mark_rect()
        .encode(
            x=alt.X(f"{x}_lo:Q", title=x_title, scale=_scale(log_x, False), axis=_axis(log_x)),
            x2=alt.X2(f"{x}_hi"),
            y=alt.Y(f"{y}_lo:Q", title=y_title, scale=_scale(log_y, False)),
            y2=alt.Y2(f"{y}_hi"),
            color=alt.Color(f"{value}:Q", scale=scale, title=value_title, legend=legend),
            tooltip=[
                alt.Tooltip(f"{x}:Q"),
                alt.Tooltip(f"{y}:Q"),
                alt.Tooltip(f"{value}:Q", format=".3g"),
            ],
        )
    )
    chart = cells
    if boundary is not None:
        line = boundary[[x, y]].assign(order=np.arange(len(boundary)))
        edge = (
            alt.Chart(line)
            .mark_line(color="black", strokeWidth=2)
            .encode(
                x=alt.X(f"{x}:Q", scale=_scale(log_x, False)),
                y=alt.Y(f"{y}:Q", scale=_scale(log_y, False)),
                order=alt.Order("order:Q"),
            )
        )
        chart = alt.layer(cells, edge)
    return chart.properties(title=title) if title else chart


# --------------------------------------------------------------------------- shared pieces


def flatten_layers(*parts, **properties) -> alt.LayerChart:
    """One layer chart holding every unit chart of ``parts`` (nested layers are unpacked).

    Altair serialises nested layer charts much more slowly than one flat layer (about twice
    the time for a line chart with threshold rules and labels), and a slider move pays that
    cost on every update. Data that Altair hoisted to a layer chart goes back to its units;
    titles and sizes of unpacked layer charts move to the result; ``properties`` are set last.
    """
    if len(parts) == 1 and _is_flat(parts[0]):
        return parts[0].properties(**properties) if properties else parts[0]
    units, props = [], {}

    def unpack(chart, data=alt.Undefined):
        if isinstance(chart, alt.LayerChart):
            for key in ("title", "width", "height"):
                value = getattr(chart, key, alt.Undefined)
                if value is not alt.Undefined:
                    props.setdefault(key, value)
            own = getattr(chart, "data", alt.Undefined)
            for layer in chart.layer:
                unpack(layer, data if own is alt.Undefined else own)
        else:
            if getattr(chart, "data", alt.Undefined) is alt.Undefined and data is not alt.Undefined:
                chart = chart.properties(data=data)
            units.append(chart)

    for part in parts:
        unpack(part)
    props.update(properties)
    chart = alt.layer(*units)
    return chart.properties(**props) if props else chart


def _is_flat(chart) -> bool:
    """A layer chart of unit charts that all carry their own data."""
    return isinstance(chart, alt.LayerChart) and all(
        not isinstance(layer, alt.LayerChart)
        and getattr(layer, "data", alt.Undefined) is not alt.Undefined
        for layer in chart.layer
    )


def flat_line_chart(data: pd.DataFrame, *, thresholds=None, title=None, **kwargs):
    """:func:`line_chart` with the threshold rules as sibling layers: the same chart, flat
    instead of nested (see :func:`flatten_layers`); ``thresholds`` must be a
    :func:`threshold_frame`."""
    line = line_chart(data, **kwargs)
    if thresholds is None:
        return line.properties(title=title) if title else line
    rules = threshold_layer(
        thresholds,
        y_title=kwargs.get("y_title"),
        log_y=kwargs.get("log_y", False),
        eta_domain=kwargs.get("eta_domain"),
    )
    return flatten_layers(line, rules, **({"title": title} if title else {}))


def emphasise(chart, field: str = "selected"):
    """Draw rows with ``field`` true fully opaque and thicker, the others faded."""
    main = main_layer(chart)
    main.encoding.opacity = alt.condition(f"datum.{field}", alt.value(1.0), alt.value(0.45))
    main.encoding.strokeWidth = alt.condition(f"datum.{field}", alt.value(3.0), alt.value(1.5))
    return chart


def step_rules(steps: Sequence[float], color: str = "#d62728", dash=(2, 3)) -> alt.Chart:
    """Vertical rules at ``steps`` (e.g. threshold crossings, or the step where P froze)."""
    frame = pd.DataFrame({"step": [float(s) for s in steps]})
    return (
        alt.Chart(frame)
        .mark_rule(color=color, strokeDash=list(dash), strokeWidth=1.2)
        .encode(x="step:Q")
    )


def ordered_color(chart, field: str, order: Sequence[str], title: str | None = None):
    """Give the categorical colour of ``chart``'s main layer a fixed legend order."""
    main_layer(chart).encoding.color = alt.Color(
        f"{field}:N", scale=alt.Scale(domain=list(order)), title=title or field
    )
    return chart


def shaded_span(start: float, stop: float, opacity: float = 0.08) -> alt.Chart:
    """A grey band over steps [start, stop] (e.g. the late part of a run that summaries use)."""
    return (
        alt.Chart(pd.DataFrame({"start": [float(start)], "stop": [float(stop)]}))
        .mark_rect(opacity=opacity, color="black")
        .encode(x="start:Q", x2="stop:Q")
    )


def runs_chart(
    table: pd.DataFrame,
    y: str,
    *,
    title: str,
    y_title: str,
    color: str = "eta",
    log_y: bool = False,
    threshold_rules: pd.DataFrame | None = None,
    eta_domain: Sequence[float] | None = None,
    emphasise_selected: bool = False,
    width: int = 330,
    height: int = 200,
) -> alt.LayerChart | alt.Chart:
    """One quantity of training runs against the step, one line per run (``label``), coloured
    by ``color``, with optional dashed threshold rules (:func:`threshold_frame`) and, with
    ``emphasise_selected``, the rows whose ``selected`` is true drawn bold."""
    detail = ["label"] + (["selected"] if emphasise_selected else [])
    detail = [d for d in detail if d != color]
    chart = line_chart(
        table,
        y=y,
        color=color,
        detail=detail,
        log_y=log_y,
        thresholds=threshold_rules,
        eta_domain=eta_domain,
        x_title="step",
        y_title=y_title,
    )
    if emphasise_selected:
        chart = emphasise(chart)
    return chart.properties(title=title, width=width, height=height)
