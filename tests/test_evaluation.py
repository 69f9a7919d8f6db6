"""utils.evaluation and utils.explore: metrics, mistakes, the headline line, statistics and close pairs."""

import numpy as np
import pytest

from utils import evaluation, explore
from utils.cli.train_folder import most_confused_pairs

NAMES = ["a", "b", "c"]


def test_evaluate_counts_and_reports():
    labels = np.array([0, 0, 1, 1, 2, 2]).reshape(-1, 1)
    probabilities = np.array([
        [0.9, 0.05, 0.05], [0.2, 0.7, 0.1],   # a right, a -> b (0.7)
        [0.1, 0.8, 0.1], [0.1, 0.6, 0.3],     # b right twice
        [0.05, 0.05, 0.9], [0.95, 0.0, 0.05],  # c right, c -> a (0.95)
    ])
    result = evaluation.evaluate(probabilities, labels, NAMES)
    assert result.accuracy == pytest.approx(4 / 6)
    assert result.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert result.per_class["b"]["recall"] == 1.0 and result.per_class["b"]["precision"] == pytest.approx(2 / 3)
    assert "precision" in result.report and "c" in result.report
    assert evaluation.most_confident_mistakes(result, labels, count=5).tolist() == [5, 1]
    titles = evaluation.prediction_titles([5], result, labels, NAMES)
    assert titles == ["c → a\n(95%)"]


def test_channel_statistics():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[..., 0], images[1, ..., 1] = 100, 200
    stats = explore.channel_statistics(images)
    assert stats["mean"].tolist() == [100, 100, 0] and stats["std"].tolist() == [0, 100, 0]


def test_closest_pairs_finds_the_planted_twin():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    b[7] = np.clip(a[12].astype(int) + 1, 0, 255)  # a near-duplicate
    pairs = explore.closest_pairs(a, b, count=3, components=16)
    assert pairs[0][:2] == (12, 7)
    assert [d for *_, d in pairs] == sorted(d for *_, d in pairs)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embed_2d(method):
    images = np.random.default_rng(1).integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    points = explore.embed_2d(images, method=method)
    assert points.shape == (40, 2) and np.isfinite(points).all()
    with pytest.raises(ValueError, match="'tsne' or 'pca'"):
        explore.embed_2d(images, method="umap")


def test_headline_prints_one_line_without_an_echo(capsys):
    assert evaluation.headline("test accuracy", 0.85912) is None, "no Out[] echo below the printed line"
    assert capsys.readouterr().out == "Headline: test accuracy = 0.8591\n"
    evaluation.headline("train seconds", 1234.5)
    assert capsys.readouterr().out == "Headline: train seconds = 1,234\n"


def test_predict_proba_predicts_in_batches():
    class Left:  # a "model" whose probability of class 0 is the mean of the left half of the image
        def predict(self, images, batch_size=None, verbose=0):
            left = images[:, :, : images.shape[2] // 2].mean(axis=(1, 2, 3)) / 255
            return np.stack([left, 1 - left], axis=1)

    images = np.zeros((2, 4, 4, 3), np.uint8)
    images[0, :, :2] = 255  # bright left half
    plain = evaluation.predict_proba(Left(), images)
    assert plain[0].tolist() == [1, 0]


def test_predict_dataset_keeps_the_order_of_the_batches():
    class Echo:
        def __call__(self, images, training=False):
            return np.asarray(images)[:, :1]

    batches = [(np.array([[1.0], [2.0]]), np.array([0, 1])), (np.array([[3.0]]), np.array([2]))]
    probabilities, labels = evaluation.predict_dataset(Echo(), batches)
    assert probabilities.ravel().tolist() == [1, 2, 3] and labels.tolist() == [0, 1, 2]


def test_most_confused_pairs_and_a_confusion_matrix_readable_at_120_classes():
    import matplotlib

    matplotlib.use("Agg")
    from utils.plots import confusion_matrix

    matrix = np.diag([10, 10, 10])
    matrix[0, 2], matrix[1, 0] = 4, 1
    assert most_confused_pairs(matrix, ["a", "b", "c"]) == [("a", "c", 4, 4 / 14), ("b", "a", 1, 1 / 11)]
    small = confusion_matrix(matrix, ["a", "b", "c"])
    assert len(small.axes[0].texts) == 9, "a few classes: every cell annotated with its count"
    names = [f"class {i}" for i in range(120)]
    big = confusion_matrix(np.random.default_rng(0).integers(0, 5, (120, 120)) + np.eye(120, dtype=int) * 50, names)
    axes = big.axes[0]
    assert not axes.texts, "120 classes: no numbers in the cells"
    assert "share of each true class" in axes.get_title() and big.get_size_inches()[1] >= 30
    assert [label.get_text() for label in axes.get_yticklabels()][:2] == ["class 0", "class 1"]
