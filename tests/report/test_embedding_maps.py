"""sslab.report.embedding_maps: aligning and drawing t-SNE snapshots."""

from __future__ import annotations

import numpy as np

from sslab.report import embedding_maps


def test_tsne_alignment_undoes_rotation_and_reflection():
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(50, 2))
    rot = np.array([[0.0, -1.0], [-1.0, 0.0]])  # a reflection across y = -x
    frames = [{"xy": xy.tolist()}, {"xy": (xy @ rot).tolist()}]
    first, second = embedding_maps.aligned(frames)
    assert np.allclose(first, second, atol=1e-8)


def test_draw_writes_the_row_and_one_image_per_map(tmp_path):
    rng = np.random.default_rng(1)
    frames = [{"xy": rng.normal(size=(12, 2)).tolist(), "labels": [i % 3 for i in range(12)]} for _ in range(2)]
    row, panels = embedding_maps.draw(frames, ["a", "b", "c"], ["first", "second"], tmp_path / "row",
                                      [tmp_path / "p0", tmp_path / "p1"])
    assert row.is_file() and [p.name for p in panels] == ["p0.png", "p1.png"] and all(p.is_file() for p in panels)
