"""The speech student: VGG-M with batch normalisation (Albanie et al. 2018, Table 4)."""

import keras
from keras import layers, ops

from kerasemo.audio.frontend import (
    NUM_BINS,
    LogMagnitude,
    NUM_RFFT_BINS,
    MirrorFrequencyBins,
    PerBinNormalization,
)
from kerasemo.checks import (
    check_bool,
    check_fraction,
    check_positive_int,
    check_positive_ints,
    check_positive_number,
)
from kerasemo.vggm import MIN_INPUT_FRAMES, MIN_NETWORK_BINS, TRUNK, trunk_output_size

# The trunk's layer table (`TRUNK`) and the input limits it implies live in TF-free
# `kerasemo.vggm`, so the configuration checks crop lengths against this very network.
_RFFT_BINS = NUM_RFFT_BINS
_MIRRORED_BINS = NUM_BINS


@keras.saving.register_keras_serializable(package="kerasemo", name="AddChannelAxis")
class _AddChannelAxis(layers.Layer):
    """`[batch, bins, frames]` -> `[batch, bins, frames, 1]` via `ops.expand_dims`.

    `expand_dims` (not `x[..., None]`, which becomes a TFLite Flex op with a dynamic batch) keeps
    an exported model on builtin TFLite ops, and works with a variable time axis.
    """

    def call(self, inputs):
        return ops.expand_dims(inputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (1,)




@keras.saving.register_keras_serializable(package="kerasemo")
class VGGMStudent(keras.Model):
    """VGG-M speech student with batch normalisation (the paper's Table 4).

    The student of "Emotion Recognition in Speech using Cross-Modal Transfer in the Wild"
    (Albanie, Nagrani, Vedaldi and Zisserman, ACM MM 2018): VGG-M applied to a linear-magnitude
    spectrogram, batch normalisation after every convolution, fully connected layers written as
    convolutions, and an average pool over time (`apool6`) so that any number of frames (at least
    `MIN_INPUT_FRAMES` = 63) can be classified. Its `num_classes` logits are the paper's speech
    emotion embedding: linear probes are fitted on them.

    Layers and shapes for a 512 x 400 (frequency x time) input, as in Table 4:

    | layer     | support | filters | stride | output  |
    |-----------|---------|---------|--------|---------|
    | conv1     | 7x7     | 96      | 2      | 254x198 |
    | mpool1    | 3x3     |         | 2      | 126x99  |
    | conv2     | 5x5     | 256     | 2      | 62x49   |
    | mpool2    | 3x3     |         | 2      | 30x24   |
    | conv3/4/5 | 3x3     | 256     | 1      | 30x24   |
    | mpool5    | 5x3     |         | 3x2    | 9x11    |
    | fc6       | 9x1     | 4096    | 1      | 1x11    |
    | apool6    | 1xn     |         | 1      | 1x1     |
    | fc7       | 1x1     | 1024    | 1      | 1x1     |
    | fc8       | 1x1     | 8       | 1      | 1x1     |

    Implementation choices:
    - Padding: conv1 and conv2 pad 1 on every side, conv3-5 pad 1 ("same"), mpool2 and mpool5
      none. mpool1 pads one column at the end of the time axis only (without it the time axis
      would be 98, not 99). It follows a ReLU, so every value is >= 0 and every window holds at
      least one real value: zero padding gives exactly the result of -inf padding.
    - Every conv except fc8 is conv (no bias: the following batch normalisation's offset plays
      that role) -> `BatchNormalization` (momentum `batch_norm_momentum`, 0.9 by default as
      MatConvNet's moment updates at rate 0.1; epsilon 1e-3) -> ReLU. Keras' default momentum
      0.99 leaves the moving statistics near their initial values after a short run, which makes
      inference-mode logits explode on small data.
      fc8 has a bias and no normalisation or ReLU: it outputs the logits.
    - fc6's frequency support is the height that arrives from mpool5 (9 for 512 bins, 4 for 257),
      so any `input_bins` >= `MIN_NETWORK_BINS` (97) builds.
    - apool6 is a global average over the 1 x n map left by fc6, so the time axis may vary.
    - Weights use He-normal initialisation (a truncated Gaussian, as the paper initialises with
      Gaussians, scaled for ReLU).
    - The logits are float32 under any dtype policy (a final float32 `logits` layer), so
      mixed-precision training keeps a float32 loss.
    - conv3 has 256 filters as in the paper's table; the authors' VGGVox code uses 384
      (`conv_filters=(96, 256, 384, 256, 256)`).

    Parameter counts (weights + biases + the 4 batch-normalisation vectors per channel, of which
    the moving mean and variance are not trainable), for the defaults
    (`num_classes=8, input_bins=512, fc6_units=4096, fc7_units=1024`):
    - conv3 = 256: 16,053,224 parameters (16,040,744 trainable).
    - conv3 = 384: 16,643,560 parameters (16,630,824 trainable).

    One 512 x 400 sample costs 6.97 GFLOPs forward (conv3 = 256; 7.82 with conv3 = 384;
    2 FLOPs per multiply-accumulate of the conv layers, see `kerasemo.models.count_conv_flops`),
    about 21 GFLOPs per training sample (3 x forward).

    Args:
        num_classes: int. Number of output logits (8 emotions in the paper).
        input_bins: int. Frequency bins of the input spectrogram: 512 (all mirrored bins, the
            paper's input), or 257 with `mirror_input=True`. Other heights (at least 97) build a
            network whose fc6 covers the height that reaches it.
        conv_filters: five ints, the filters of conv1..conv5.
        fc6_units: int. Filters of fc6.
        fc7_units: int. Filters of fc7.
        mirror_input: bool. If True the input holds the 257 rfft bins and the model mirrors them
            to the paper's 512 (`MirrorFrequencyBins`); `input_bins` must then be 257.
        normalize_input: bool. If True the first stage is `PerBinNormalization` (mean and N-1
            standard deviation of every frequency bin over time, per clip), so normalisation runs
            on the accelerator and ships with exported models. It is idempotent, so normalised
            inputs may also be fed.
        normalization_epsilon: float or None. Epsilon of `PerBinNormalization`; None keeps that
            layer's default. Unused when `normalize_input=False`.
        log_magnitude: bool. If True the input magnitudes are log-compressed (`LogMagnitude`,
            ``log(1 + S)``) before the per-bin normalisation; an option beyond the paper, which
            feeds linear magnitudes. Needs `normalize_input=True` (the order matters).
        input_frames: int or None. Fixed number of frames (time axis); None (default) accepts any
            length >= `MIN_INPUT_FRAMES`.
        batch_norm_momentum: float in [0, 1). Momentum of the batch-norm moving statistics.
        dtype: None, str or `keras.DTypePolicy`. Dtype policy of the layers (None: the global
            policy). The logits are always float32.
        name: str. Model name.
        **kwargs: passed to `keras.Model` (e.g. `trainable`).

    Input shape:
        `[batch, input_bins, frames]` float32 linear-magnitude spectrogram, frequency-major.

    Output shape:
        `[batch, num_classes]` float32 logits.

    Example:

    ```python
    import numpy as np
    from kerasemo.models import VGGMStudent

    student = VGGMStudent()  # paper size, 512 bins, any number of frames >= 63
    spectrogram = np.abs(np.random.randn(2, 512, 400)).astype("float32")
    logits = student.predict(spectrogram)  # (2, 8)

    # 257 rfft bins in, mirrored to 512 inside the model, authors' conv3 width:
    student = VGGMStudent(input_bins=257, mirror_input=True, conv_filters=(96, 256, 384, 256, 256))
    ```
    """

    # Long on purpose: argument checks, then the VGG-M graph layer by layer as in Table 4.
    def __init__(
        self,
        num_classes=8,
        input_bins=512,
        conv_filters=(96, 256, 256, 256, 256),
        fc6_units=4096,
        fc7_units=1024,
        mirror_input=False,
        normalize_input=True,
        normalization_epsilon=None,
        input_frames=None,
        batch_norm_momentum=0.9,
        log_magnitude=False,
        dtype=None,
        name="vggm_student",
        **kwargs,
    ):
        # === Validation ===
        check_positive_int(num_classes, "num_classes")
        check_positive_int(input_bins, "input_bins")
        check_positive_int(fc6_units, "fc6_units")
        check_positive_int(fc7_units, "fc7_units")
        check_bool(mirror_input, "mirror_input")
        check_bool(normalize_input, "normalize_input")
        check_bool(log_magnitude, "log_magnitude")
        if log_magnitude and not normalize_input:
            raise ValueError(
                "`log_magnitude=True` compresses the magnitudes before the model's own per-bin "
                "normalisation, so it needs `normalize_input=True`. Received: "
                "normalize_input=False."
            )
        conv_filters = check_positive_ints(conv_filters, "conv_filters", 5, (96, 256, 256, 256, 256))
        if mirror_input and input_bins != _RFFT_BINS:
            raise ValueError(
                f"`mirror_input=True` mirrors the {_RFFT_BINS} rfft bins of a 512-point FFT to "
                f"{_MIRRORED_BINS}, so `input_bins` must be {_RFFT_BINS}. Received: "
                f"input_bins={input_bins}. Pass input_bins={_RFFT_BINS}, or mirror_input=False "
                "for an input that already holds all bins."
            )
        network_bins = _MIRRORED_BINS if mirror_input else input_bins
        if network_bins < MIN_NETWORK_BINS:
            raise ValueError(
                f"`input_bins` is too small for the network: it needs at least "
                f"{MIN_NETWORK_BINS} frequency bins to leave one row for fc6. Received: "
                f"input_bins={input_bins}."
            )
        if normalization_epsilon is not None:
            normalization_epsilon = check_positive_number(
                normalization_epsilon, "normalization_epsilon"
            )
        if input_frames is not None:
            check_positive_int(input_frames, "input_frames")
            if input_frames < MIN_INPUT_FRAMES:
                raise ValueError(
                    f"`input_frames` must be None (variable length) or at least "
                    f"{MIN_INPUT_FRAMES}, the shortest input the network can pool. Received: "
                    f"input_frames={input_frames}."
                )
        check_fraction(batch_norm_momentum, "batch_norm_momentum")
        batch_norm_momentum = float(batch_norm_momentum)
        if isinstance(dtype, keras.DTypePolicy):
            dtype = dtype.name
        fc6_height = trunk_output_size(network_bins, 0)

        # === Functional model ===
        def conv_bn_relu(x, index, filters, kernel, strides=1, padding="valid"):
            x = layers.Conv2D(
                filters,
                kernel,
                strides=strides,
                padding=padding,
                use_bias=False,
                kernel_initializer="he_normal",
                dtype=dtype,
                name=f"conv{index}" if index <= 5 else f"fc{index}",
            )(x)
            x = layers.BatchNormalization(
                momentum=batch_norm_momentum, dtype=dtype, name=f"bn{index}"
            )(x)
            return layers.ReLU(dtype=dtype, name=f"relu{index}")(x)

        inputs = keras.Input(
            shape=(input_bins, input_frames), dtype="float32", name="spectrogram"
        )
        x = inputs
        if log_magnitude:
            x = LogMagnitude(dtype=dtype, name="log_magnitude")(x)
        if normalize_input:
            norm_kwargs = {}
            if normalization_epsilon is not None:
                norm_kwargs["epsilon"] = normalization_epsilon
            # Normalising before mirroring is equivalent (mirroring copies bins) and cheaper.
            x = PerBinNormalization(dtype=dtype, name="normalize", **norm_kwargs)(x)
        if mirror_input:
            x = MirrorFrequencyBins(dtype=dtype, name="mirror")(x)
        x = _AddChannelAxis(dtype=dtype, name="add_channel")(x)

        stages = {stage[0]: stage for stage in TRUNK}
        x = layers.ZeroPadding2D(stages["conv1"][3], dtype=dtype, name="conv1_pad")(x)
        x = conv_bn_relu(x, 1, conv_filters[0], stages["conv1"][1], stages["conv1"][2])
        x = layers.ZeroPadding2D(stages["mpool1"][3], dtype=dtype, name="mpool1_pad")(x)
        x = layers.MaxPooling2D(
            stages["mpool1"][1], stages["mpool1"][2], dtype=dtype, name="mpool1"
        )(x)
        x = layers.ZeroPadding2D(stages["conv2"][3], dtype=dtype, name="conv2_pad")(x)
        x = conv_bn_relu(x, 2, conv_filters[1], stages["conv2"][1], stages["conv2"][2])
        x = layers.MaxPooling2D(
            stages["mpool2"][1], stages["mpool2"][2], dtype=dtype, name="mpool2"
        )(x)
        for index in (3, 4, 5):
            # 3x3, stride 1, "same" = pad 1 on every side.
            x = conv_bn_relu(x, index, conv_filters[index - 1], (3, 3), padding="same")
        x = layers.MaxPooling2D(
            stages["mpool5"][1], stages["mpool5"][2], dtype=dtype, name="mpool5"
        )(x)
        x = conv_bn_relu(x, 6, fc6_units, (fc6_height, 1))
        x = layers.GlobalAveragePooling2D(keepdims=True, dtype=dtype, name="apool6")(x)
        x = conv_bn_relu(x, 7, fc7_units, (1, 1))
        x = layers.Conv2D(
            num_classes, (1, 1), kernel_initializer="he_normal", dtype=dtype, name="fc8"
        )(x)
        x = layers.Flatten(dtype=dtype, name="squeeze")(x)
        outputs = layers.Activation("linear", dtype="float32", name="logits")(x)

        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.input_bins = input_bins
        self.conv_filters = conv_filters
        self.fc6_units = fc6_units
        self.fc7_units = fc7_units
        self.mirror_input = mirror_input
        self.normalize_input = normalize_input
        self.normalization_epsilon = normalization_epsilon
        self.input_frames = input_frames
        self.batch_norm_momentum = batch_norm_momentum
        self.log_magnitude = log_magnitude
        self._dtype_arg = dtype
        self.network_bins = network_bins
        self.fc6_height = fc6_height
        self.min_input_frames = MIN_INPUT_FRAMES

    def _check_input_frames(self, inputs):
        """Raises a clear error for a time axis shorter than the network can pool.

        Keras itself checks the rank and the number of bins against the input spec. The time
        axis is checked only when it is known (eager calls, symbolic calls with a fixed length);
        inside a traced function with a dynamic time axis, TensorFlow reports the too-short input
        as a negative output size at mpool5 instead.
        """
        try:
            shape = tuple(inputs.shape)
        except (AttributeError, TypeError, ValueError):  # unknown rank while tracing
            return
        if len(shape) != 3:
            return
        frames = shape[2]
        if frames is not None and int(frames) < self.min_input_frames:
            raise ValueError(
                f"{self.__class__.__name__} needs at least {self.min_input_frames} frames "
                f"(about 0.65 s of 16 kHz audio) on the time axis. Received an input of shape "
                f"{tuple(shape)} ({frames} frames). Zero-pad shorter utterances."
            )

    def call(self, inputs, training=None, mask=None, **kwargs):
        self._check_input_frames(inputs)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def compute_output_spec(self, inputs, training=None, mask=None):
        self._check_input_frames(inputs)
        return super().compute_output_spec(inputs, training=training, mask=mask)

    def get_config(self):
        return {
            "num_classes": self.num_classes,
            "input_bins": self.input_bins,
            "conv_filters": list(self.conv_filters),
            "fc6_units": self.fc6_units,
            "fc7_units": self.fc7_units,
            "mirror_input": self.mirror_input,
            "normalize_input": self.normalize_input,
            "normalization_epsilon": self.normalization_epsilon,
            "batch_norm_momentum": self.batch_norm_momentum,
            "input_frames": self.input_frames,
            "log_magnitude": self.log_magnitude,
            "dtype": self._dtype_arg,
            "name": self.name,
            "trainable": self.trainable,
        }


def student_from_config(experiment, **kwargs):
    """Builds the untrained student that distillation trains, from a `kerasemo.config.ExperimentConfig`.

    It reads the stored 257 rfft bins (`VGGMStudent(input_bins=257)`), mirrors them to 512 when
    ``frontend.mirror`` is set, and takes its widths from ``student``.

    Args:
        experiment: an `ExperimentConfig` (uses `student` and `frontend.mirror`).
        **kwargs: more `VGGMStudent` arguments (e.g. ``dtype``).

    Returns:
        A `VGGMStudent`.

    Example:

    >>> from kerasemo.config import load_config
    >>> student_from_config(load_config("paper")).count_params()
    16053224
    """
    return VGGMStudent(
        input_bins=257,
        mirror_input=experiment.frontend.mirror,
        conv_filters=experiment.student.conv_filters,
        fc6_units=experiment.student.fc6_units,
        fc7_units=experiment.student.fc7_units,
        log_magnitude=experiment.student.log_magnitude,
        **kwargs,
    )
