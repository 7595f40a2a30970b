"""Keras must run on its torch backend; the backend is fixed when keras is first imported."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
