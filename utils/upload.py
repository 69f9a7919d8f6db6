"""Try your own photo: an upload button in notebook 05 (Colab's file picker, or an ipywidgets button in
Jupyter) that shows each uploaded picture with its top-k bars from several models.

The upload is plumbing, not the lesson: the prediction it shows is the one notebook 05's step-by-step
cell explains (:func:`utils.images.decode_image` at the model's input size, then the model). Nothing
waits for input when no one is there to give it: in quick mode (the tests, nbval) and outside a
notebook the cell only says what it would do.
"""

from __future__ import annotations

import sys


def _show(name: str, data: bytes, predictors: dict, k: int):
    import numpy as np

    from utils.images import ImageLoadError, decode_image
    from utils.plots import top_k_bars
    from utils.predict import top_k

    for label, predictor in predictors.items():
        try:
            image = decode_image(data, name, size=predictor.image_size)
        except ImageLoadError as err:
            print(f"could not read {name}: {err.reason}")
            return
        names, values = top_k(predictor.model.predict(image[np.newaxis].astype("float32"), verbose=0),
                              predictor.class_names, k)
        top_k_bars([image], names, values, titles=[f"{name}\n{label}"], size=2.0)


def upload_and_predict(predictors: dict, k: int = 5):
    """Let the reader upload pictures and show each with the top-``k`` classes of every predictor
    (``{label: utils.predict.Predictor}``). Returns the upload widget in Jupyter, else None."""
    from utils.settings import quick_mode

    labels = ", ".join(predictors)
    if quick_mode():
        print(f"Quick mode (tests): no upload button. In a notebook this cell shows one; each picture you "
              f"upload is shown with its top-{k} classes from: {labels}.")
        return None
    if "google.colab" in sys.modules:  # Colab's own file picker (waits for the reader, as Colab users expect)
        from google.colab import files

        for name, data in files.upload().items():
            _show(name, data, predictors, k)
        return None
    try:
        import ipywidgets
        from IPython.display import display
    except ImportError:
        print("ipywidgets is not installed (pip install ipywidgets): no upload button. Put your photos in "
              "DATASET/ and run the notebook again instead.")
        return None
    button = ipywidgets.FileUpload(accept="image/*", multiple=True, description="Upload photos")
    output = ipywidgets.Output()

    def on_upload(change):
        output.clear_output()
        with output:
            for item in change["new"]:
                _show(item["name"], bytes(item["content"]), predictors, k)
                import matplotlib.pyplot as plt

                plt.show()

    button.observe(on_upload, names="value")
    print(f"Upload one or more pictures: each is shown with its top-{k} classes from: {labels}.")
    display(ipywidgets.VBox([button, output]))
    return button
