"""Small HTML tables: the numbers a panel shows beside its charts.

A table costs about a millisecond to build and send, a text chart tens of milliseconds, so
panels show numbers this way (:class:`aeos_lab.viz.widgets.TableView` keeps one on screen).
"""

from __future__ import annotations

import html

import pandas as pd

__all__ = ["html_table"]


def html_table(frame: pd.DataFrame, caption: str | None = None) -> str:
    """``frame`` as a compact HTML table (values escaped), with an optional caption line."""
    cell = "padding:2px 10px;text-align:left;"
    head = "".join(
        f'<th style="{cell}border-bottom:1px solid #999;">{html.escape(str(c))}</th>'
        for c in frame.columns
    )
    rows = "".join(
        "<tr>" + "".join(f'<td style="{cell}">{html.escape(str(v))}</td>' for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    note = "" if caption is None else f'<div style="margin-top:4px;">{html.escape(caption)}</div>'
    return (
        f'<div style="font-size:13px;margin:4px 0 12px 0;">'
        f'<table style="border-collapse:collapse;">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{note}</div>"
    )
