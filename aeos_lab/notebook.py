"""What every notebook does first: read the fast-variant switch, set up charts and widgets for
the environment (JupyterLab, Colab, nbmake), and say which device JAX computes on."""

from __future__ import annotations

import gc
import sys

from aeos_lab.lessons.parameters import FAST_ENV, fast_mode

__all__ = ["FAST_ENV", "device_summary", "fast_mode", "in_colab", "setup"]


def in_colab() -> bool:
    return "google.colab" in sys.modules


def device_summary() -> str:
    import jax

    device = jax.devices()[0]
    count = jax.device_count()
    extra = f" x{count}" if count > 1 else ""
    return f"JAX {jax.__version__} on {device.platform.upper()} ({device.device_kind}){extra}"


def setup(verbose: bool = True) -> dict:
    """Prepare a notebook: the shared Altair theme, charts that work offline, Colab's custom
    widget manager, and a line naming the device. Returns what it found."""
    from aeos_lab.viz import charts, widgets

    charts.use_theme()
    offline = widgets.enable_offline()
    if in_colab():  # anywidget-based charts need Colab's custom widget manager
        from google.colab import output  # type: ignore[import-not-found]

        output.enable_custom_widget_manager()
    # Everything imported so far lives for the whole session: keep it out of the garbage
    # collector's full passes, which otherwise pause a slider move by 100-250 ms now and then.
    gc.collect()
    gc.freeze()
    info = {
        "device": device_summary(),
        "fast": fast_mode(),
        "offline_charts": offline,
        "colab": in_colab(),
    }
    if verbose:
        mode = "fast variant (AEOS_LAB_FAST=1)" if info["fast"] else "full variant"
        print(f"{info['device']} | {mode}")
    return info
