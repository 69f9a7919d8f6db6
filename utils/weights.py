"""Weights computed from the data instead of learned: the patch-whitening kernel of notebook 02's stem.

The eigenvectors of the covariance of small pixel patches, scaled by one over the square root of
their eigenvalues, decorrelate neighbouring pixels and colours and give every direction unit
variance. Used as the frozen kernel of the first convolution, they give the network useful
edge- and colour-contrast features from the first step: a classic trick of fast CIFAR-10 training.
"""

from __future__ import annotations

import numpy as np

from utils.settings import SEED


def patch_whitening_kernel(images, mean=0.0, std=1.0, size: int = 2, epsilon: float = 5e-4, samples: int = 10000,
                           seed: int = SEED) -> np.ndarray:
    """A ``(size, size, channels, 2 * size * size * channels)`` convolution kernel that whitens patches.

    ``images`` (uint8, NHWC; ``samples`` of them are used) are first normalised with the per-channel
    ``mean`` and ``std``, as the model normalises its input. Each whitening filter is used with
    both signs, so that a ReLU after it loses nothing.
    """
    rng = np.random.default_rng(seed)
    images = np.asarray(images)[rng.permutation(len(images))[:samples]]
    images = (images.astype(np.float64) - mean) / std
    height, width, channels = images.shape[1:]
    patches = np.stack([images[:, i:i + height - size + 1, j:j + width - size + 1, :]
                        for i in range(size) for j in range(size)], axis=3)  # (n, h', w', size*size, c)
    patches = patches.reshape(-1, size * size * channels)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(patches, rowvar=False))
    filters = eigenvectors.T / np.sqrt(eigenvalues + epsilon)[:, None]  # (size*size*c, size*size*c)
    filters = np.concatenate([filters, -filters])  # both signs
    return filters.reshape(-1, size, size, channels).transpose(1, 2, 3, 0).astype("float32")
