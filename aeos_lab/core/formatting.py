"""Number labels shared by every layer: run labels in the engine, axis and table text in views.

One formatter, :func:`format_sci`, so that a learning rate reads the same (``3e-4``, ``38/η =
3.8e4``) in a progress line, a legend, a table and an exported figure.
"""

from __future__ import annotations

import math

__all__ = ["format_sci"]


def format_sci(value, digits: int = 2, missing: str = "–") -> str:
    """Short number label: ``3.8e4``, ``1e-3``, ``200``, ``0.5`` (``digits`` significant).

    Plain notation is used for 1e-2 <= |value| < 1e4, compact scientific notation otherwise.
    ``None`` reads as ``missing``; NaN and infinities as Python prints them.
    """
    if value is None:
        return missing
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if 1e-2 <= abs(value) < 1e4:
        rounded = float(f"{value:.{digits - 1}e}")
        return f"{rounded:f}".rstrip("0").rstrip(".")
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"
