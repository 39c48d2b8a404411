"""SALSA-V in JAX/Flax: shortcut-augmented long-form synchronized audio from video.

Import-light on purpose: the training path must import without PyAV, gradio or the
database (the GPU machine lacks them). Heavy pieces load lazily in their own modules.
"""
__version__ = "0.1.0"
