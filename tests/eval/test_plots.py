"""Image grids: a known layout, pixel for pixel."""

import io

import numpy as np
from PIL import Image

from raygan.eval.plots import grid_png, image_grid


def test_image_grid_places_each_image_in_its_cell_on_white():
    images = np.stack([np.full((3, 2, 2), v, np.uint8) for v in (10, 20, 30)])
    images[1, 0] = 200  # a red channel that differs from green and blue
    grid = np.asarray(image_grid(images, columns=2, pad=1))
    # 2 columns x 2 rows of 2 px images, 1 px of white between and around them.
    assert grid.shape == (2 * 3 + 1, 2 * 3 + 1, 3)
    assert (grid[1:3, 1:3] == 10).all()
    assert (grid[1:3, 4:6] == [200, 20, 20]).all()
    assert (grid[4:6, 1:3] == 30).all()
    assert (grid[4:6, 4:6] == 255).all()  # the empty fourth cell stays white
    border = np.ones(grid.shape[:2], bool)
    for y in (1, 4):
        for x in (1, 4):
            border[y : y + 2, x : x + 2] = False
    assert (grid[border] == 255).all()


def test_grid_png_round_trips():
    images = np.random.default_rng(0).integers(0, 256, (5, 3, 4, 4), dtype=np.uint8)
    png = Image.open(io.BytesIO(grid_png(images)))
    assert np.array_equal(np.asarray(png), np.asarray(image_grid(images)))
