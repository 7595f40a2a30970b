"""Rendering: the only layer where numbers become text. Library code returns numbers."""
