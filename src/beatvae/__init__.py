"""Groove MIDI Dataset -> Magenta MusicVAE drum models: the logic behind the Snakemake workflow.

The one place that sets the TensorFlow switches Magenta needs: Magenta 2.1.4 is TF1-style code on
tf.compat.v1 + tf-keras, and TensorFlow reads TF_USE_LEGACY_KERAS when it is first imported. Any
`beatvae.*` import runs this file first, so every module of the package (and every job script,
which starts with a `beatvae` import) gets them before its own TensorFlow or Magenta imports.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
