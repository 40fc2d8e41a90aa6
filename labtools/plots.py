"""Plot how the share of one status code settles as requests pile up."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure


@dataclass
class SharePlot:
    """A running-share chart; shows as a PNG in Jupyter and as one line of text elsewhere."""

    figure: Figure
    running_share: np.ndarray
    status: int
    expected: float

    @property
    def final_share(self) -> float:
        return float(self.running_share[-1]) if len(self.running_share) else 0.0

    def __repr__(self) -> str:
        return (
            f"{self.status} share after {len(self.running_share)} requests: "
            f"{self.final_share:.1%} (expected {self.expected:.0%})"
        )

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()


def plot_share(codes: list[int], status: int = 503, expected: float = 0.2) -> SharePlot:
    """Plot the running share of `status` among `codes`, with a dashed line at `expected`.

    Uses a bare Figure, not pyplot, so the chart appears once and no global state is touched.
    """
    hits = np.asarray(codes) == status
    running = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    axes.plot(np.arange(1, len(hits) + 1), running * 100, label=f"share of {status} so far")
    axes.axhline(expected * 100, color="tab:red", linestyle="--", label=f"expected {expected:.0%}")
    axes.set_xscale("log")
    # Keep the expected line readable, but never hide a share far above it.
    far_above = len(running) > 0 and running[-1] > 2 * expected
    axes.set_ylim(0, 100 if far_above else max(250 * expected, 5))
    axes.set_xlabel("requests sent (log scale)")
    axes.set_ylabel(f"{status} responses (%)")
    axes.set_title(f"How often /status answered {status}")
    axes.legend(loc="upper right")
    return SharePlot(figure=figure, running_share=running, status=status, expected=expected)
