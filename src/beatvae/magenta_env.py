"""TensorFlow the way Magenta's MusicVAE needs it (tf.compat.v1 in graph mode).

The legacy-Keras switch it also needs is set by the package itself (beatvae/__init__.py).
"""


def tensorflow_v1():
    """tf.compat.v1 in graph mode, as Magenta's MusicVAE expects."""
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    tf.logging.set_verbosity(tf.logging.ERROR)
    return tf
