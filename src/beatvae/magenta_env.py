"""Imports Magenta the way it works on a modern TensorFlow.

Magenta 2.1.4 is TF1-style code on tf.compat.v1 + tf-keras, so the legacy-Keras switch must be
set before TensorFlow is first imported; every module that needs Magenta goes through here.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def tensorflow_v1():
    """tf.compat.v1 in graph mode, as Magenta's MusicVAE expects."""
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    tf.logging.set_verbosity(tf.logging.ERROR)
    return tf

