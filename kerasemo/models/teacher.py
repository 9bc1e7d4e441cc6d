"""The face teacher: SE-ResNet-50 with an 8-way emotion head (Albanie et al. 2018, section 3.1).

`SEResNetTeacher` is ResNet-50 with a squeeze-and-excitation (SE) block in every bottleneck (Hu et
al., "Squeeze-and-Excitation Networks", CVPR 2018), the architecture the paper fine-tunes on
FERPlus. `teacher_from_config` builds it from a `TeacherConfig`; `load_teacher` builds one and
loads user-supplied weights (`.keras` or `.weights.h5`) with a clear error when shapes differ.

Example:

```python
from kerasemo.config import load_config
from kerasemo.models.teacher import load_teacher

teacher = load_teacher(None, load_config("demo").teacher)  # random init, demo size
teacher = load_teacher("runs/teacher/teacher.keras", load_config("paper").teacher)
```
"""

# Over 600 lines on purpose: the SE-ResNet-50, its SE block and loading it from any saved form.

from __future__ import annotations

import logging
import os
import pathlib
import re
import warnings

import keras
from keras import layers, ops

from kerasemo.checks import check_bool, check_fraction, check_positive_int, check_positive_ints

logger = logging.getLogger(__name__)

# The authors' per-channel mean of the face crops (R, G, B on a 0-255 scale; std 1).
AUTHORS_MEAN_RGB = (131.0912, 103.8827, 91.4953)

# Channels out of a bottleneck = 4 x its width (ResNet-50's expansion).
EXPANSION = 4

# Published parameter counts, for reference and the tests. Hu et al. (2018), Table 2, report
# 28.1M for SE-ResNet-50 (1000 ImageNet classes); the exact count of the reference
# implementation (weights, biases, BN scale and offset; BN moving statistics excluded) is
# 28,088,024. With an 8-way head the 2048 x 1000 + 1000 classifier becomes 2048 x 8 + 8:
# 28,088,024 - 2048 x 992 - 992 = 26,055,416.
PUBLISHED_SE_RESNET50_PARAMS = 28_088_024
PUBLISHED_SE_RESNET50_8WAY_PARAMS = PUBLISHED_SE_RESNET50_PARAMS - 2048 * 992 - 992

_STRIDE_PLACEMENTS = ("1x1", "3x3")


class TeacherWeightsError(ValueError):
    """A weights file does not fit the teacher the configuration describes."""


@keras.saving.register_keras_serializable(package="kerasemo")
class ChannelMeanSubtraction(layers.Layer):
    """Subtracts a fixed per-channel mean: the teacher's input normalisation (std 1).

    Keeping it inside the model makes a saved teacher self-contained: the labelling stage feeds
    raw 0-255 RGB crops.

    Args:
        mean: sequence of floats, one per channel (the authors' RGB mean by default).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:

    >>> import numpy as np
    >>> layer = ChannelMeanSubtraction(mean=(1.0, 2.0, 3.0))
    >>> np.asarray(layer(np.full((1, 1, 1, 3), 10.0, "float32"))).ravel().tolist()
    [9.0, 8.0, 7.0]
    """

    def __init__(self, mean=AUTHORS_MEAN_RGB, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mean, (str, bytes)) or not hasattr(mean, "__len__") or len(mean) < 1:
            raise ValueError(
                "`mean` must be a non-empty sequence of floats, one per channel. "
                f"Received: mean={mean!r}."
            )
        self.mean = tuple(float(m) for m in mean)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels != len(self.mean):
            raise ValueError(
                f"ChannelMeanSubtraction holds {len(self.mean)} channel means but its input has "
                f"{channels} channels (input shape {tuple(input_shape)})."
            )
        self.built = True

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        return inputs - ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mean": list(self.mean)})
        return config



@keras.saving.register_keras_serializable(package="kerasemo")
class SEResNetTeacher(keras.Model):
    """SE-ResNet face-emotion teacher (SE-ResNet-50 by default) with an 8-way logits head.

    The teacher of "Emotion Recognition in Speech using Cross-Modal Transfer in the Wild"
    (Albanie, Nagrani, Vedaldi and Zisserman, ACM MM 2018): ResNet-50 whose every bottleneck
    block ends in a squeeze-and-excitation block, an ImageNet-style stem, and a linear head over
    the emotions in `kerasemo.emotions.CLASSES` order.

    Architecture (Caffe SENet / VGGFace2 `senet50`, the authors' starting point):
    - input `[batch, input_size, input_size, 3]` RGB on a 0-255 scale; with
      `normalize_input=True` the first layer subtracts `mean_rgb` (`ChannelMeanSubtraction`),
      so a saved teacher takes raw crops;
    - stem: 7x7/2 conv (pad 3) -> BN -> ReLU -> 3x3/2 max pool (pad 1);
    - four stages of `blocks_per_stage` bottlenecks with widths `base_width x (1, 2, 4, 8)` and
      `4 x width` output channels; stages 2-4 halve the resolution in their first block;
    - bottleneck: 1x1 reduce -> BN -> ReLU -> 3x3 -> BN -> ReLU -> 1x1 increase -> BN -> SE ->
      add shortcut -> ReLU. Every conv has no bias and is followed by BN (epsilon 1e-5, as Caffe);
    - SE: global average pool -> dense C/r -> ReLU -> dense C -> sigmoid -> channel-wise scale,
      before the residual addition (r = `se_reduction`, 16 in the paper);
    - the first block of every stage has a projection shortcut (1x1 conv with the block's
      stride -> BN); the others add the identity;
    - head: global average pool -> dropout(`dropout`) -> dense `num_classes` -> float32 logits.

    Stride placement: with `stride_on="1x1"` (default) a downsampling block strides in its first
    1x1 conv, as in the Caffe SENet models (and the VGGFace2 `senet50` weights the authors
    fine-tune); `stride_on="3x3"` strides in the 3x3 conv (torchvision "ResNet v1.5"). The choice
    does not change the parameter count; "3x3" costs more FLOPs.

    Parameter counts (trainable = weights, biases, BN scale and offset; `count_params()` also
    includes the BN moving mean and variance):
    - `num_classes=1000`: 28,088,024 trainable, equal to the published SE-ResNet-50
      (Hu et al. report 28.1M).
    - `num_classes=8` (the teacher): 26,055,416 trainable (= 28,088,024 - 2048 x 992 - 992),
      26,108,536 in all.

    Args:
        num_classes: int. Number of logits (8 emotions).
        input_size: int. Side of the square input crop (224 in the paper).
        blocks_per_stage: four ints, bottlenecks per stage ((3, 4, 6, 3) = 50 layers).
        base_width: int. Width of the first stage's bottleneck (64); the stem has as many
            channels.
        se_reduction: int. Squeeze-and-excitation reduction ratio (16).
        dropout: float in [0, 1). Dropout before the classifier (0.5 in the authors' training).
        mean_rgb: three floats subtracted from the input when `normalize_input=True`.
        normalize_input: bool. Whether the model subtracts `mean_rgb` itself.
        stride_on: "1x1" (Caffe SENet) or "3x3", see above.
        bn_momentum: float. Momentum of the BN moving statistics.
        bn_epsilon: float. BN epsilon.
        kernel_regularizer: None, or a regularizer (instance, name or config) applied to every
            conv and dense kernel: the authors' weight decay `wd` is `keras.regularizers.L2(wd / 2)`
            (see `kerasemo.experiments.train_teacher`).
        dtype: None, str or `keras.DTypePolicy`. Layers' dtype policy; the logits are float32.
        name: str. Model name.
        **kwargs: passed to `keras.Model` (e.g. `trainable`).

    Input shape:
        `[batch, input_size, input_size, 3]`, RGB 0-255 (float or uint8 values).

    Output shape:
        `[batch, num_classes]` float32 logits.

    Example:

    ```python
    import numpy as np
    from kerasemo.models.teacher import SEResNetTeacher

    teacher = SEResNetTeacher()  # SE-ResNet-50, 224 x 224, 8 logits
    small = SEResNetTeacher(input_size=64, blocks_per_stage=(1, 1, 1, 1), base_width=16)
    logits = small.predict(np.full((2, 64, 64, 3), 128, "uint8"))  # (2, 8)
    ```
    """

    # Long on purpose: argument checks, then the SE-ResNet-50 graph stage by stage.
    def __init__(
        self,
        num_classes=8,
        input_size=224,
        blocks_per_stage=(3, 4, 6, 3),
        base_width=64,
        se_reduction=16,
        dropout=0.5,
        mean_rgb=AUTHORS_MEAN_RGB,
        normalize_input=True,
        stride_on="1x1",
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        kernel_regularizer=None,
        dtype=None,
        name="se_resnet_teacher",
        **kwargs,
    ):
        # === Validation ===
        blocks_per_stage = check_positive_ints(blocks_per_stage, "blocks_per_stage", 4, (3, 4, 6, 3))
        check_positive_int(num_classes, "num_classes")
        check_positive_int(input_size, "input_size")
        check_positive_int(base_width, "base_width")
        check_positive_int(se_reduction, "se_reduction")
        check_fraction(dropout, "dropout")
        if isinstance(mean_rgb, (str, bytes)) or not hasattr(mean_rgb, "__len__") or len(
            mean_rgb
        ) != 3:
            raise ValueError(
                "`mean_rgb` must be three floats (R, G, B on a 0-255 scale). "
                f"Received: mean_rgb={mean_rgb!r}."
            )
        mean_rgb = tuple(float(m) for m in mean_rgb)
        check_bool(normalize_input, "normalize_input")
        if stride_on not in _STRIDE_PLACEMENTS:
            raise ValueError(
                f"`stride_on` must be one of {_STRIDE_PLACEMENTS} (the conv of a downsampling "
                f"bottleneck that strides). Received: stride_on={stride_on!r}."
            )
        min_size = 32  # stem /4, then three stride-2 stages: 32 px leave a 1 x 1 map.
        if input_size < min_size:
            raise ValueError(
                f"`input_size` must be at least {min_size} (the network downsamples by 32). "
                f"Received: input_size={input_size}."
            )
        if isinstance(dtype, keras.DTypePolicy):
            dtype = dtype.name
        regularizer_config = (
            None if kernel_regularizer is None
            else keras.regularizers.serialize(keras.regularizers.get(kernel_regularizer))
        )

        def regularizer():
            # A fresh instance per layer, so that layers never share regularizer objects.
            return None if regularizer_config is None else keras.regularizers.deserialize(
                regularizer_config
            )

        def conv(x, filters, kernel, strides, name):
            return layers.Conv2D(
                filters,
                kernel,
                strides=strides,
                padding="valid",
                use_bias=False,
                kernel_initializer="he_normal",
                kernel_regularizer=regularizer(),
                dtype=dtype,
                name=name,
            )(x)

        def batch_norm(x, name):
            return layers.BatchNormalization(
                momentum=bn_momentum, epsilon=bn_epsilon, dtype=dtype, name=name
            )(x)

        def squeeze_excitation(x, channels, name):
            squeezed = layers.GlobalAveragePooling2D(
                keepdims=True, dtype=dtype, name=f"{name}_se_pool"
            )(x)
            squeezed = layers.Dense(
                max(1, channels // se_reduction),
                activation="relu",
                kernel_initializer="he_normal",
                kernel_regularizer=regularizer(),
                dtype=dtype,
                name=f"{name}_se_reduce",
            )(squeezed)
            gates = layers.Dense(
                channels,
                activation="sigmoid",
                kernel_regularizer=regularizer(),
                dtype=dtype,
                name=f"{name}_se_expand",
            )(squeezed)
            return layers.Multiply(dtype=dtype, name=f"{name}_se_scale")([x, gates])

        def bottleneck(x, width, strides, project, name):
            out_channels = EXPANSION * width
            stride_1x1 = strides if stride_on == "1x1" else 1
            stride_3x3 = strides if stride_on == "3x3" else 1
            shortcut = x
            if project:
                shortcut = conv(x, out_channels, 1, strides, f"{name}_proj")
                shortcut = batch_norm(shortcut, f"{name}_proj_bn")
            y = conv(x, width, 1, stride_1x1, f"{name}_1x1_reduce")
            y = batch_norm(y, f"{name}_1x1_reduce_bn")
            y = layers.ReLU(dtype=dtype, name=f"{name}_1x1_reduce_relu")(y)
            y = layers.ZeroPadding2D(1, dtype=dtype, name=f"{name}_3x3_pad")(y)
            y = conv(y, width, 3, stride_3x3, f"{name}_3x3")
            y = batch_norm(y, f"{name}_3x3_bn")
            y = layers.ReLU(dtype=dtype, name=f"{name}_3x3_relu")(y)
            y = conv(y, out_channels, 1, 1, f"{name}_1x1_increase")
            y = batch_norm(y, f"{name}_1x1_increase_bn")
            y = squeeze_excitation(y, out_channels, name)
            y = layers.Add(dtype=dtype, name=f"{name}_add")([y, shortcut])
            return layers.ReLU(dtype=dtype, name=f"{name}_relu")(y)

        # === Functional model ===
        inputs = keras.Input(shape=(input_size, input_size, 3), dtype="float32", name="images")
        x = inputs
        if normalize_input:
            x = ChannelMeanSubtraction(mean=mean_rgb, dtype=dtype, name="mean_subtraction")(x)
        x = layers.ZeroPadding2D(3, dtype=dtype, name="conv1_pad")(x)
        x = conv(x, base_width, 7, 2, "conv1")
        x = batch_norm(x, "conv1_bn")
        x = layers.ReLU(dtype=dtype, name="conv1_relu")(x)
        # Zero padding is exact here: the input follows a ReLU, so every value is >= 0.
        x = layers.ZeroPadding2D(1, dtype=dtype, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, dtype=dtype, name="pool1")(x)
        for stage, blocks in enumerate(blocks_per_stage):
            width = base_width * 2**stage
            for block in range(blocks):
                strides = 2 if (stage > 0 and block == 0) else 1
                x = bottleneck(
                    x, width, strides, project=block == 0, name=f"stage{stage + 1}_block{block + 1}"
                )
        x = layers.GlobalAveragePooling2D(dtype=dtype, name="avg_pool")(x)
        x = layers.Dropout(dropout, dtype=dtype, name="dropout")(x)
        x = layers.Dense(
            num_classes,
            # The authors initialise the new head with N(0, 0.01^2) weights and zero biases.
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            kernel_regularizer=regularizer(),
            dtype=dtype,
            name="classifier",
        )(x)
        outputs = layers.Activation("linear", dtype="float32", name="logits")(x)

        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.input_size = input_size
        self.blocks_per_stage = blocks_per_stage
        self.base_width = base_width
        self.se_reduction = se_reduction
        self.dropout = float(dropout)
        self.mean_rgb = mean_rgb
        self.normalize_input = normalize_input
        self.stride_on = stride_on
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.kernel_regularizer_config = regularizer_config
        self._dtype_arg = dtype

    def get_config(self):
        return {
            "num_classes": self.num_classes,
            "input_size": self.input_size,
            "blocks_per_stage": list(self.blocks_per_stage),
            "base_width": self.base_width,
            "se_reduction": self.se_reduction,
            "dropout": self.dropout,
            "mean_rgb": list(self.mean_rgb),
            "normalize_input": self.normalize_input,
            "stride_on": self.stride_on,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "kernel_regularizer": self.kernel_regularizer_config,
            "dtype": self._dtype_arg,
            "name": self.name,
            "trainable": self.trainable,
        }


def teacher_from_config(config, *, num_classes=8, kernel_regularizer=None, dtype=None):
    """Builds an untrained `SEResNetTeacher` from a `kerasemo.config.TeacherConfig`.

    Args:
        config: a `TeacherConfig` (uses `blocks_per_stage`, `base_width`, `se_reduction`,
            `input_size`, `mean_rgb`, `dropout`).
        num_classes: number of logits (8).
        kernel_regularizer: optional regularizer for every kernel (training only).
        dtype: optional dtype policy name.

    Returns:
        An `SEResNetTeacher`.

    Example:

    >>> from kerasemo.config import load_config
    >>> teacher_from_config(load_config("demo").teacher).input_size
    64
    """
    return SEResNetTeacher(
        num_classes=num_classes,
        input_size=config.input_size,
        blocks_per_stage=tuple(config.blocks_per_stage),
        base_width=config.base_width,
        se_reduction=config.se_reduction,
        dropout=config.dropout,
        mean_rgb=tuple(config.mean_rgb),
        kernel_regularizer=kernel_regularizer,
        dtype=dtype,
    )


def _config_hint(model):
    """The `--set teacher.*` overrides that describe `model`, when it is an SEResNetTeacher."""
    if not isinstance(model, SEResNetTeacher):
        return ""
    return (
        f"teacher.blocks_per_stage={list(model.blocks_per_stage)} "
        f"teacher.base_width={model.base_width} teacher.se_reduction={model.se_reduction} "
        f"teacher.input_size={model.input_size}"
    )


def _snake_case(name):
    """Keras' rule for naming a layer's entry in a weights file after its class name."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _weight_file_keys(model):
    """(file key, layer) for every layer of `model`, as Keras names them in `.weights.h5`.

    Keras 3 stores a functional model's weights under ``layers/<class name>[_<n>]/vars/<i>``,
    numbered by position among the model's layers of the same class, not under the layers'
    own names; this reproduces that numbering so mismatches can be reported by layer name.
    """
    used = {}
    keys = []
    for layer in model.layers:
        base = _snake_case(layer.__class__.__name__)
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        keys.append((key, layer))
    return keys


def _shapes_in_weights_file(path):
    """Reads ``{file key: [variable shapes]}`` from a Keras 3 `.weights.h5` file."""
    import h5py

    shapes = {}
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise TeacherWeightsError(
            f"{path} could not be read as an HDF5 `.weights.h5` file ({error})."
        ) from None
    with handle:
        if "layers" not in handle:
            raise TeacherWeightsError(
                f"{path} is not a Keras 3 `.weights.h5` file (no 'layers' group). Save weights "
                "with `model.save_weights('teacher.weights.h5')`, or pass a `.keras` file."
            )
        for key, group in handle["layers"].items():
            variables = group.get("vars")
            if variables is not None and len(variables):
                shapes[key] = [
                    tuple(variables[k].shape) for k in sorted(variables, key=int)
                ]
    return shapes


def _describe_stored_teacher(stored):
    """Best-effort `--set teacher.*` values for an SE-ResNet weights file, or ""."""
    conv = stored.get("conv2d")
    dense = [stored[k][0] for k in sorted(
        (k for k in stored if k == "dense" or k.startswith("dense_")),
        key=lambda k: 0 if k == "dense" else int(k.split("_")[1]),
    )]
    if not conv or len(dense) < 3:
        return ""
    blocks, reduction = {}, None
    for first, second in zip(dense[:-1:2], dense[1:-1:2]):
        if len(first) != 2 or len(second) != 2 or first != second[::-1]:
            return ""
        blocks[first[0]] = blocks.get(first[0], 0) + 1
        reduction = first[0] // max(first[1], 1)
    return (
        f"teacher.blocks_per_stage={list(blocks.values())} "
        f"teacher.base_width={conv[0][-1]} teacher.se_reduction={reduction}"
    )


def _check_weights_file(model, path, allow_new_head):
    """Compares a `.weights.h5` file with `model`; raises on the first mismatching layer.

    Returns:
        True if only the classifier differs and `allow_new_head` is set.
    """
    stored = _shapes_in_weights_file(path)
    described = _describe_stored_teacher(stored)
    hint = (
        f" The file looks like a teacher with {described} (the input size is not stored in a "
        f"weights file); this configuration has {_config_hint(model)}. Pass the matching "
        "--set teacher.* values."
        if described
        else f" This configuration builds a teacher with {_config_hint(model)}."
    )
    head_mismatch = False
    expected_keys = set()
    for key, layer in _weight_file_keys(model):
        shapes = [tuple(v.shape) for v in layer.weights]
        if not shapes:
            continue
        expected_keys.add(key)
        if key not in stored:
            raise TeacherWeightsError(
                f"{path} has no weights for layer '{layer.name}' (expected shapes {shapes}); "
                f"the file holds weights for {len(stored)} layers, the teacher has more.{hint}"
            )
        if stored[key] != shapes:
            if layer.name == "classifier" and allow_new_head:
                head_mismatch = True
                continue
            extra = (
                " For a different number of classes, load with allow_new_head=True."
                if layer.name == "classifier"
                else ""
            )
            raise TeacherWeightsError(
                f"Layer '{layer.name}' does not match {path}: the file has weight shapes "
                f"{stored[key]}, the teacher built from the configuration expects "
                f"{shapes}.{hint}{extra}"
            )
    extra_keys = sorted(set(stored) - expected_keys)
    if extra_keys:
        raise TeacherWeightsError(
            f"{path} holds weights for {len(extra_keys)} more layers than this teacher has "
            f"(first: '{extra_keys[0]}', shapes {stored[extra_keys[0]]}).{hint}"
        )
    return head_mismatch


def load_teacher(path, config, *, allow_new_head=False, num_classes=8, dtype=None):
    """Builds the teacher and loads weights into it.

    Args:
        path: None or "" (a freshly initialised teacher built from `config`), a `.keras` file
            (a whole saved model: its own architecture is used) or a `.weights.h5` file (weights
            for the teacher `config` describes).
        config: a `kerasemo.config.TeacherConfig`.
        allow_new_head: if True, a `.weights.h5` file whose classifier has a different number of
            classes (e.g. a VGGFace2 identity head) loads everything but the classifier, which
            keeps its fresh initialisation (for fine-tuning).
        num_classes: number of logits (8).
        dtype: optional dtype policy name for a model built from `config`.

    Returns:
        A Keras model mapping `[batch, size, size, 3]` 0-255 RGB to `[batch, num_classes]`
        logits (an `SEResNetTeacher` unless a `.keras` file held another model).

    Raises:
        FileNotFoundError: if `path` does not exist.
        TeacherWeightsError: if the file's format is unknown, a `.keras` model's output is not
            `num_classes` wide, or a `.weights.h5` file's first mismatching layer (named in the
            message, with the `--set teacher.*` values that would fit).

    Example:

    ```python
    teacher = load_teacher("pretrained.weights.h5", config.teacher)
    ```
    """
    if path is None or str(path) == "":
        return teacher_from_config(config, num_classes=num_classes, dtype=dtype)
    path = pathlib.Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(
            f"Teacher weights file {path} does not exist. Pass a `.keras` model or a "
            "`.weights.h5` file, or leave teacher.weights_path empty to train from scratch."
        )
    name = path.name.lower()
    if name.endswith(".keras"):
        from kerasemo.models.loading import load_keras_model

        model = load_keras_model(path, what="teacher")
        width = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
        if width != num_classes:
            raise TeacherWeightsError(
                f"{path} holds a model with {width} outputs; the teacher needs {num_classes} "
                "logits (one per emotion)."
            )
        if isinstance(model, SEResNetTeacher):
            built = {
                "blocks_per_stage": tuple(config.blocks_per_stage),
                "base_width": config.base_width,
                "input_size": config.input_size,
            }
            stored = {
                "blocks_per_stage": model.blocks_per_stage,
                "base_width": model.base_width,
                "input_size": model.input_size,
            }
            if built != stored:
                logger.warning(
                    "%s was saved with %s; the configuration says %s. Using the saved model's "
                    "architecture.", path, stored, built,
                )
        return model
    if name.endswith(".weights.h5"):
        model = teacher_from_config(config, num_classes=num_classes, dtype=dtype)
        head_mismatch = _check_weights_file(model, path, allow_new_head)
        if head_mismatch:
            with warnings.catch_warnings():
                # Keras warns about the skipped classifier; the log line below says it plainly.
                warnings.simplefilter("ignore", UserWarning)
                model.load_weights(path, skip_mismatch=True)
        else:
            model.load_weights(path)
        if head_mismatch:
            logger.info(
                "Loaded %s except its classifier (different number of classes); the %d-way "
                "head is freshly initialised.", path, num_classes,
            )
        return model
    raise TeacherWeightsError(
        f"Unknown teacher weights format: {path}. Expected a `.keras` model or a `.weights.h5` "
        "file (legacy `.h5` checkpoints are not supported)."
    )
