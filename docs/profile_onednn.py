"""Where one training step of notebook 02's recipe spends its time, by oneDNN primitive.

TensorFlow runs convolutions, pooling and matrix products on the CPU through oneDNN, which prints each call
and its time when ``ONEDNN_VERBOSE=1``. This script starts itself again with that variable set, takes one
training step of ``utils.cnn.recipe_cnn`` (batches of 1,024 random images, the precision ``train`` uses, after
a warm-up) and adds the times up by kind of primitive and by layer shape; whatever the step takes beyond
them is TensorFlow's own kernels (batch normalisation, activations, casts, the optimizer). Run from the
repository root: ``.venv/bin/python docs/profile_onednn.py [WIDTHS]``, e.g. ``64,256,256`` (figures in
docs/results.md, "Speed").
"""

import collections
import os
import subprocess
import sys
import time

MARK = "--- the profiled step ---"


def step(widths):
    from step_rates import warmed_up  # (beside this file)

    model, batches = warmed_up(widths)
    batch = batches[0]
    start = time.perf_counter()
    for _ in range(3):
        model.train_on_batch(*batch)
    print(f"step {1000 * (time.perf_counter() - start) / 3:.0f} ms (mean of 3, without oneDNN's logging)", flush=True)
    print(MARK, flush=True)
    start = time.perf_counter()
    model.train_on_batch(*batch)
    print(f"profiled step {1000 * (time.perf_counter() - start):.0f} ms", flush=True)


def report(widths):
    environment = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    output = subprocess.run([sys.executable, __file__, "--step", widths], env=environment, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    after = output[output.index(MARK) + 1:]
    by_kind, by_shape = collections.Counter(), collections.Counter()
    for line in after:
        fields = line.split(",")
        if line.startswith("onednn_verbose") and len(fields) > 8 and fields[3] == "exec":
            kind = f"{fields[5]} {fields[7]}"  # e.g. convolution backward_weights
            by_kind[kind] += float(fields[-1])
            by_shape[f"{kind}  {fields[-2]}"] += float(fields[-1])
    print(f"widths {widths}; " + next(line for line in output if line.startswith("step ")))
    print(next(line for line in after if line.startswith("profiled step")) + ", of which in oneDNN:")
    for kind, milliseconds in by_kind.most_common():
        print(f"  {milliseconds:7.1f} ms  {kind}")
    print(f"  {sum(by_kind.values()):7.1f} ms  in all")
    print("the slowest calls, by shape (mb: batch, ic/oc: channels in/out, ih: height):")
    for shape, milliseconds in by_shape.most_common(8):
        print(f"  {milliseconds:7.1f} ms  {shape}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--step"]:
        step(tuple(int(w) for w in sys.argv[2].split(",")))
    else:
        report(sys.argv[1] if len(sys.argv) > 1 else "32,128,128")
