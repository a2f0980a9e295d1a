"""The pages' PNG of a figure: the image matplotlib's own print_figure gives, byte for byte."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from telesales_lab.present import plots
from telesales_lab.present.plots import base


def _matplotlib_png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    out = io.BytesIO()
    fig.canvas.print_figure(out, format="png", dpi=base.PAGE_DPI, bbox_inches=None,
                            pil_kwargs={"compress_level": base.PNG_COMPRESS_LEVEL})
    return out.getvalue()


def _charts():
    """A legend outside the axes, long Chinese tick labels, two axes side by side, a heatmap."""
    fig, ax = base.figure(8, 4)
    for k in range(3):
        ax.plot(np.arange(12), np.arange(12) ** (1 + k / 4), label=f"第{k + 1}组 team {k}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title("每月成交 sales by month")
    yield fig
    fig, (left, right) = base.figure_row(2, 12, 5)
    left.barh(["需求导向开场", "价值先行开场白，较长的名字", "C"], [3, 5, 2])
    right.scatter(np.random.default_rng(1).random(50), np.random.default_rng(2).random(50))
    right.set_xlabel("接通率 contact rate")
    yield fig
    fig, ax = base.figure(6, 6)
    image = ax.imshow(np.random.default_rng(3).random((20, 8)), aspect="auto")
    fig.colorbar(image, ax=ax)
    ax.set_yticks(range(20), [f"代表 R{i:03d}" for i in range(20)])
    yield fig


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure_png_is_print_figures_image(lang):
    plots.setup(lang)
    ours = [base.figure_png(fig) for fig in _charts()]
    theirs = [_matplotlib_png(fig) for fig in _charts()]
    assert [len(x) > 1000 for x in ours] == [True] * 3
    assert ours == theirs


def test_figure_png_leaves_the_figure_as_it_was():
    plots.setup("en")
    fig, twin = next(_charts()), next(_charts())
    engine, dpi, canvas = fig.get_layout_engine(), fig.dpi, fig.canvas
    assert base.figure_png(fig) == _matplotlib_png(twin)
    assert (fig.get_layout_engine(), fig.dpi, fig.canvas) == (engine, dpi, canvas)
    other = next(_charts())
    before = other.dpi
    assert base.figure_png(other, dpi=72) is not None and other.dpi == before  # printed at 72, then back
    # a layout starts from the last one, matplotlib's too: printed again, still its image
    assert base.figure_png(fig) == _matplotlib_png(twin)
    assert base64.b64decode(base._png_base64(fig)) == base.figure_png(twin)


def test_an_empty_figure_gives_no_image():
    from matplotlib.figure import Figure

    assert base.figure_png(Figure()) is None and base._png_base64(Figure()) is None


def test_figure_png_has_the_pixels_of_the_default_compression():
    """A lighter zlib level than Pillow's default: other bytes, the same pixels."""
    from PIL import Image

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    plots.setup("zh")
    for fig, twin in zip(_charts(), _charts()):
        ours = np.asarray(Image.open(io.BytesIO(base.figure_png(fig))))
        out = io.BytesIO()
        FigureCanvasAgg(twin)
        twin.canvas.print_figure(out, format="png", dpi=base.PAGE_DPI, bbox_inches=None)  # Pillow's level 6
        assert np.array_equal(ours, np.asarray(Image.open(io.BytesIO(out.getvalue()))))
