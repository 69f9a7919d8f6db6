"""An SGD whose learning rate can be scaled per variable: notebook 02's recipe trains batch-norm offsets 64
times faster than the weights, and the whitening layer's bias only for its first epochs.

``ScaledSGD(..., scales={"beta": 64.0, "stem_whitening/bias": switch})`` multiplies the learning rate of
every variable whose path contains a key by that key's value. A value may be a ``keras.Variable`` that a
callback changes during training (set it to 0 to freeze the variable): it is read inside the compiled
training step, so the change takes effect at the next step without tracing the step again, which a
change of ``trainable`` would need.

The step is the one PyTorch's SGD takes, as in the recipes this one comes from: the momentum buffer
holds gradients, ``buffer = momentum * buffer + gradient``, and the whole step is scaled by the current
learning rate, ``variable -= lr * scale * (gradient + momentum * buffer)`` with Nesterov momentum. So a
scale of 0 stops a variable at once (Keras' own SGD keeps moving it with the velocity it has built up),
and a new learning rate applies to the whole step at once. Weight decay is Keras' decoupled decay, at
the unscaled learning rate: the scales change how fast variables learn, not how fast they decay.
"""

from __future__ import annotations

import keras
from keras import ops


class ScaledSGD(keras.optimizers.SGD):
    """SGD with (Nesterov) momentum and a learning-rate scale per variable, matched on the variable's path."""

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=True, scales=None, **kwargs):
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)
        self.scales = dict(scales or {})

    def scales_of(self, variable) -> list:
        """The learning-rate scales of ``variable``: those whose key is in its path (their product applies)."""
        return [value for key, value in self.scales.items() if key in variable.path]

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        # by variable index: the compiled step sees backend variables, which have no path
        self._variable_scales = [self.scales_of(variable) for variable in variables]

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        for scale in self._variable_scales[self._get_variable_index(variable)]:  # read at every step
            learning_rate = learning_rate * ops.cast(scale, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        if self.momentum == 0:
            self.assign_sub(variable, learning_rate * gradient)
            return
        buffer = self.momentums[self._get_variable_index(variable)]
        momentum = ops.cast(self.momentum, variable.dtype)
        self.assign(buffer, momentum * buffer + gradient)
        step = gradient + momentum * buffer if self.nesterov else buffer
        self.assign_sub(variable, learning_rate * step)

    def get_config(self):
        config = super().get_config()
        config["scales"] = {key: float(ops.convert_to_numpy(value)) for key, value in self.scales.items()}
        return config
