"""Capture: the only code that runs the model. A dispatch mode sees every aten op; global module
hooks and autograd sequence numbers attribute each op to the innermost running module."""
