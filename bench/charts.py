"""PNG charts of the results (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR


def save(scenario: str, draw: Callable[[Any], None], *, size: tuple[float, float] = (10, 4.5)) -> Path:
    """Draw onto a fresh figure and write results/<scenario>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=size, dpi=100)
    draw(figure)
    figure.tight_layout()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{scenario}.png"
    figure.savefig(path)
    plt.close(figure)
    return path


def rate_panels(figure: Any, series: dict[str, list[dict[str, Any]]], title: str) -> None:
    """Left: achieved vs offered rate; right: p50/p99 latency vs offered rate (log scale), one line per system."""
    throughput, latency = figure.subplots(1, 2)
    for name, steps in series.items():
        ordered = sorted(steps, key=lambda step: step["offered_rps"])
        offered = [step["offered_rps"] for step in ordered]
        [line] = throughput.plot(offered, [step["achieved_rps"] for step in ordered], marker="o", label=name)
        color = line.get_color()
        latency.plot(offered, [step["p50_ms"] for step in ordered], marker="o", color=color, label=f"{name} p50")
        latency.plot(offered, [step["p99_ms"] for step in ordered], marker="x", linestyle="--", color=color,
                     label=f"{name} p99")
    top = max((step["offered_rps"] for steps in series.values() for step in steps), default=1)
    throughput.plot([0, top], [0, top], color="grey", linewidth=0.8, linestyle=":", label="offered = achieved")
    throughput.set(xlabel="offered requests/s", ylabel="achieved requests/s (2xx)", title=title)
    throughput.legend(fontsize=8)
    latency.set(xlabel="offered requests/s", ylabel="latency from scheduled send (ms)", yscale="log",
                title="latency (open loop)")
    latency.legend(fontsize=8)
