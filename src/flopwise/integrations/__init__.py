"""Adapters of :class:`flopwise.Throughput` to training frameworks, one module each:

- :mod:`flopwise.integrations.lightning`: ``ThroughputCallback`` for ``lightning.Trainer``;
- :mod:`flopwise.integrations.transformers`: ``ThroughputCallback`` for the Hugging Face
  ``Trainer``.

Each imports its framework; this package imports neither.
"""
