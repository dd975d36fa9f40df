"""What every figure shares: a fresh Figure (no pyplot state), axis formatters, a log axis, and labels
moved apart until none overlap (tests assert it on their rendered boxes)."""

from __future__ import annotations

from ..numfmt import is_number


def spread_labels(fig, texts, pad_px: float = 1.0, rounds: int = 200) -> None:
    """Move annotation labels apart, upwards, until no two of them overlap (their rendered bounding
    boxes, in pixels). Annotations placed with textcoords="offset points" keep pointing at their point."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not texts:
        return
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()  # the layout engine places the axes first: boxes are measured where they end up
    for _ in range(rounds):
        boxes = [t.get_window_extent(renderer) for t in texts]
        moved = False
        order = sorted(range(len(texts)), key=lambda i: (boxes[i].y0, boxes[i].x0))
        for a_pos, i in enumerate(order):
            for j in order[a_pos + 1 :]:
                a, b = boxes[i], boxes[j]
                if a.x1 + pad_px <= b.x0 or b.x1 + pad_px <= a.x0 or a.y1 + pad_px <= b.y0 or b.y1 + pad_px <= a.y0:
                    continue
                up_px = a.y1 + pad_px - b.y0  # lift j just above i
                dx, dy = texts[j].xyann
                texts[j].xyann = (dx, dy + up_px * 72.0 / fig.dpi)
                boxes[j] = texts[j].get_window_extent(renderer)
                moved = True
        if not moved:
            return


def overlapping_labels(fig, texts) -> list[tuple[str, str]]:
    """Pairs of labels whose rendered boxes overlap (what spread_labels removes; tests assert none)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    return [
        (texts[i].get_text(), texts[j].get_text())
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if boxes[i].overlaps(boxes[j])
    ]


def log_x(ax) -> None:
    """Log x axis with plain-number labels (generative perplexity: a ratio scale)."""
    _log_axis(ax, "x")


def log_y(ax) -> None:
    """Log y axis with plain-number labels."""
    _log_axis(ax, "y")


def _log_axis(ax, which: str) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator

    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 3.0)))
    # thousands as "10k": a span of several decades otherwise runs "10000" and "30000" into one another
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: ""))


def new_figure(nrows, ncols, width, height):
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42})
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, alpha=0.25, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=7)
    return fig, axes


def kilo_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v / 1000:g}k" if abs(v) >= 1000 else f"{v:g}")


def pct_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{100 * v:.0f}%")


def _fmt_seconds(s) -> str:
    if not is_number(s):
        return "?"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"
