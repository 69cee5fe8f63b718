"""The per-hit figure: log-log panels of the cost of a hit against the hits made, one line per
configuration, with matplotlib (Debian's python3-matplotlib; bench/run.sh installs it)."""
from typing import Dict, List, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

Color = Tuple[int, int, int]
Series = Dict[str, List[Tuple[float, float]]]
COLUMNS = 2


def per_hit_figure(panels: Sequence[Tuple[str, Series]], names: Sequence[str],
                   path: str, colors: Dict[str, Color] = None) -> None:
    """A grid of log-log panels (two per row) sharing one legend and one y range, written to
    `path` as PNG; `colors` (0-255 RGB) keep a configuration's color across figures."""
    colors = colors or {}
    rows = (len(panels) + COLUMNS - 1) // COLUMNS
    figure, axes = plt.subplots(rows, COLUMNS, figsize=(6.2 * COLUMNS, 4.4 * rows),
                                sharey=True, squeeze=False)
    for ax, (title, series) in zip(axes.flat, panels):
        for name in names:
            points = sorted((x, y) for x, y in series.get(name, ()) if x > 0 and y > 0)
            if points:
                rgb = colors.get(name)
                ax.plot(*zip(*points), marker="s", markersize=4, label=name,
                        color=tuple(c / 255 for c in rgb) if rgb else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_xlabel("hits n")
        ax.grid(True, which="major", color="0.8")
        ax.grid(True, which="minor", color="0.93")
    for ax in axes[:, 0]:
        ax.set_ylabel("µs per hit")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    handles = {label: handle for ax in axes.flat
               for handle, label in zip(*ax.get_legend_handles_labels())}
    figure.legend([handles[n] for n in names if n in handles],
                  [n for n in names if n in handles], loc="lower center", ncol=3, frameon=False)
    figure.tight_layout(rect=(0, 0.01 + 0.025 * ((len(names) + 2) // 3), 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)
