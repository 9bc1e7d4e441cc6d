"""kerasemo: speech emotion recognition learned from faces, without labelled speech.

A face-emotion teacher labels the frames of unlabelled talking-face video; a speech student
learns to reproduce the teacher's softened predictions from the synchronous voice (Albanie,
Nagrani, Vedaldi and Zisserman, "Emotion Recognition in Speech using Cross-Modal Transfer in the
Wild", ACM MM 2018).

Importing the package is cheap: TensorFlow and Keras load only when a submodule that needs them
is imported (``kerasemo.audio``, ``kerasemo.models``, ...) or ``kerasemo.EmotionRecognizer`` is
first used.
"""

__version__ = "0.1.0"


def __getattr__(name):
    """Lazy access to `EmotionRecognizer`, so importing kerasemo does not load TensorFlow."""
    if name == "EmotionRecognizer":
        from kerasemo.inference import EmotionRecognizer

        return EmotionRecognizer
    raise AttributeError(f"module 'kerasemo' has no attribute {name!r}")
