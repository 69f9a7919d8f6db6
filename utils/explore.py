"""Looking at an image data set before modelling it: statistics, close pairs and a 2-D map."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.neighbors import NearestNeighbors

from utils.settings import SEED


def channel_statistics(images) -> dict[str, np.ndarray]:
    """Per-channel mean and standard deviation of uint8 images (NHWC), on the 0-255 scale."""
    pixels = np.asarray(images, dtype=np.float64).reshape(-1, np.shape(images)[-1])
    return {"mean": pixels.mean(axis=0), "std": pixels.std(axis=0)}


def _features(images, components: int, seed: int):
    """Flattened pixels projected on their first principal components (a cheap, faithful summary)."""
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1) / 255.0
    components = min(components, flat.shape[0], flat.shape[1])
    return PCA(n_components=components, random_state=seed).fit(flat), flat


def closest_pairs(images_a, images_b, count: int = 8, components: int = 64, seed: int = SEED):
    """The ``count`` pairs (index in a, index in b, distance) whose pixels are most alike.

    Images are compared after projecting on ``components`` principal components (fitted on
    both sets), which keeps the search fast and ignores pixel noise. Pairs are returned from
    the most alike, each image of ``b`` used at most once.
    """
    pca, flat = _features(np.concatenate([images_a, images_b]), components, seed)
    flat_a, flat_b = flat[: len(images_a)], flat[len(images_a):]
    index = NearestNeighbors(n_neighbors=1).fit(pca.transform(flat_a))
    distances, nearest = index.kneighbors(pca.transform(flat_b))
    order = np.argsort(distances[:, 0])
    pairs, used_a = [], set()
    for b in order:
        a = int(nearest[b, 0])
        if a not in used_a:
            used_a.add(a)
            pairs.append((a, int(b), float(distances[b, 0])))
        if len(pairs) == count:
            break
    return pairs


def embed_2d(images, method: str = "tsne", seed: int = SEED) -> np.ndarray:
    """A 2-D map of images: PCA to 50 dimensions, then t-SNE (``method="tsne"``) or PCA's first two axes."""
    pca, flat = _features(images, 50, seed)
    reduced = pca.transform(flat)
    if method == "pca":
        return reduced[:, :2]
    if method != "tsne":
        raise ValueError(f"method must be 'tsne' or 'pca', got {method!r}")
    perplexity = min(30.0, max(5.0, (len(images) - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
