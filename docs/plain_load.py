"""Load a saved model with plain Keras (utils never imported) and measure its accuracy on the 10,000 CIFAR-10
test images, decoded with Pillow into raw 0-255 RGB arrays."""
import sys
from pathlib import Path

import keras
import numpy as np
from PIL import Image

model = keras.models.load_model(sys.argv[1])
assert "utils" not in sys.modules
root = Path(sys.argv[2])
names = sorted(p.name for p in root.iterdir() if p.is_dir())
files = [(f, label) for label, name in enumerate(names) for f in sorted((root / name).iterdir())]
images = np.stack([np.asarray(Image.open(f).convert("RGB")) for f, _ in files])
labels = np.array([label for _, label in files])
predictions = model.predict(images, batch_size=500, verbose=0).argmax(axis=1)
print(f"plain keras.models.load_model({sys.argv[1]!r}): test accuracy {np.mean(predictions == labels):.4f} "
      f"on {len(labels)} images of {len(names)} classes")
