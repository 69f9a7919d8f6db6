"""Weights set by rule instead of learned from scratch: the patch-whitening kernel of notebook 02's stem,
computed from the data, and the identity ("Dirac") start of its later convolutions.

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


def identity_init(conv) -> None:
    """Start a built ``Conv2D`` as an identity map where it can: its first filters copy the input channels.

    Filter ``i`` (for ``i`` below both the input and the output channel counts) gets a single 1 at the
    centre of its window on input channel ``i``, and zeros elsewhere (the "Dirac" initialisation); the
    other filters keep their random start. A block of such convolutions starts out passing its input
    through, like a residual connection, which makes early training faster.
    """
    from keras import ops

    kernel = ops.convert_to_numpy(conv.kernel).copy()
    height, width, channels_in, channels_out = kernel.shape
    count = min(channels_in, channels_out)
    kernel[:, :, :, :count] = 0
    kernel[height // 2, width // 2, np.arange(count), np.arange(count)] = 1
    conv.kernel.assign(kernel)
