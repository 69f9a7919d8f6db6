"""Try your own photo: an upload button in notebook 05 (Colab's file picker, or an ipywidgets button in Jupyter)
that shows each uploaded picture with its top-k bars from several models.

The upload is plumbing, not the lesson: the prediction it shows is the one notebook 05's step-by-step cell
explains (:func:`utils.images.decode_image` at the model's input size, then the model). Nothing waits for input
when no one is there to give it: the Jupyter button does not block the notebook, and Colab's picker, which
does, is not opened in quick mode (the tests).
"""

from __future__ import annotations

import sys

import matplotlib.pyplot as plt
import numpy as np

from utils.images import ImageLoadError, decode_image
from utils.plots import top_k_bars
from utils.predict import top_k
from utils.settings import quick_mode


def show_predictions(name: str, data: bytes, predictors: dict, k: int = 5) -> None:
    """The picture in ``data`` (a file's bytes) beside the top-``k`` bars of every predictor; one line if the
    file cannot be read."""
    for label, predictor in predictors.items():
        try:
            image = decode_image(data, name, size=predictor.image_size)
        except ImageLoadError as err:
            print(f"could not read {name}: {err.reason}")
            return
        names, values = top_k(predictor.model.predict(image[np.newaxis].astype("float32"), verbose=0),
                              predictor.class_names, k)
        top_k_bars([image], names, values, titles=[f"{name}\n{label}"], size=2.0)
        plt.show()


def upload_and_predict(predictors: dict, k: int = 5) -> None:
    """Let the reader upload pictures and show each with the top-``k`` classes of every predictor
    (``{label: utils.predict.Predictor}``): one upload button in Jupyter, Colab's file picker in Colab."""
    labels = ", ".join(predictors)
    if "google.colab" in sys.modules:  # Colab's own file picker: it waits for the reader, as Colab users expect
        if quick_mode():
            print(f"Quick mode: Colab's file picker is not opened. Without QUICK=1 this cell asks for pictures and "
                  f"shows each with its top-{k} classes from: {labels}.")
            return
        from google.colab import files  # only in Colab

        for name, data in files.upload().items():
            show_predictions(name, data, predictors, k)
        return
    try:
        import ipywidgets  # in requirements.txt; another environment may lack it
        from IPython.display import display
    except ImportError:
        print("ipywidgets is not installed (pip install ipywidgets): no upload button. Put your photos in "
              "DATASET/ and run the notebook again instead.")
        return
    button = ipywidgets.FileUpload(accept="image/*", multiple=True, description="Upload photos")
    output = ipywidgets.Output()

    def on_upload(change):
        output.clear_output()
        with output:
            for item in change["new"]:
                show_predictions(item["name"], bytes(item["content"]), predictors, k)

    button.observe(on_upload, names="value")
    print(f"Upload one or more pictures: each is shown with its top-{k} classes from: {labels}.")
    display(ipywidgets.VBox([button, output]))
