"""``keras:PATH.keras``: a saved Keras 3 model on the torch backend; the default inputs are its
declared input shapes with free dimensions set to 1."""

from __future__ import annotations

from flopwise.models.loaded import LoadedModel

__all__ = ["load"]


def load(spec: str, path: str) -> LoadedModel:
    """A saved Keras 3 model (``keras:path/to/model.keras``), loaded on the torch backend."""
    from flopwise.keras import keras_input_shapes, load_keras_model

    model = load_keras_model(path, select_torch_backend=True)
    shapes = tuple(tuple(1 if d is None else d for d in shape)
                   for shape in keras_input_shapes(model))
    return LoadedModel(spec, "keras", model, default_shapes=shapes,
                       default_note="the Keras model's declared inputs (free dims = 1)")
