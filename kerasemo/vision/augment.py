"""Face-crop preprocessing and the authors' affine augmentation, in `keras.ops`.

Preprocessing (`preprocess_faces`): grey -> 3 channels, bilinear resize to the teacher's input
size, values kept on the 0-255 scale. The per-channel mean is subtracted by the teacher's first
layer (`kerasemo.models.teacher.ChannelMeanSubtraction`), so every consumer (training pipeline,
frame labelling, export) feeds raw 0-255 RGB; `subtract_channel_mean` is the same operation for
code that needs it outside a model.

Augmentation (`augment_faces`, paper section 3.1 and the authors' training code): a horizontal flip with
probability `flip_probability`, and three affine distortions each applied to `augment_fraction`
of the samples, independently: zoom by a factor drawn from {1 - z, 1, 1 + z} (z = 1/25), rotation
by an angle drawn from {-r, 0, +r} degrees (r = 10) and horizontal shear (skew) by a factor drawn
from {-s, 0, +s} (s = 0.1), all about the image centre. The discrete choices are the authors'.
Flip and distortions are composed into one affine transform per sample and applied in a single
bilinear `keras.ops.image.affine_transform` call; points that fall outside the image take the
nearest edge pixel.

The random draws are explicit inputs (`uniforms`, `NUM_UNIFORMS` per sample) so that a tf.data
pipeline can draw them with stateless, seeded ops (`kerasemo.data.face_records`);
`FaceAugmentation` is the same augmentation as a Keras layer with its own seed generator.

Example:

```python
import numpy as np
from kerasemo.vision import augment_faces, preprocess_faces, NUM_UNIFORMS

grey = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
uniforms = np.random.default_rng(1).random((4, NUM_UNIFORMS)).astype("float32")
augmented = augment_faces(grey, uniforms)          # (4, 48, 48, 1)
rgb = preprocess_faces(augmented, size=224)         # (4, 224, 224, 3), 0-255
```
"""

from __future__ import annotations

import math

import keras
from keras import ops

# Uniform random numbers each sample consumes: flip, then (gate, choice) for zoom, rotation
# and skew.
NUM_UNIFORMS = 7

# The authors' augmentation: defaults of `augment_faces`.
DEFAULT_FLIP_PROBABILITY = 0.5
DEFAULT_ZOOM = 1 / 25
DEFAULT_ROTATION_DEGREES = 10.0
DEFAULT_SKEW = 0.1
DEFAULT_AUGMENT_FRACTION = 0.5
AUGMENTATION_SETTINGS = ("flip_probability", "zoom", "rotation_degrees", "skew", "augment_fraction")
"""The settings of the authors' augmentation (`affine_parameters`), shared by `augment_faces`,
`FaceAugmentation` and the teacher's training settings (`kerasemo.config.TeacherConfig`)."""


def grey_to_rgb(images):
    """Replicates a single grey channel to three (R = G = B).

    Args:
        images: `[..., H, W, 1]` tensor or array (a trailing 3-channel input is returned as is).

    Returns:
        `[..., H, W, 3]` tensor.

    Raises:
        ValueError: for a channel axis other than 1 or 3.
    """
    images = ops.convert_to_tensor(images)
    channels = images.shape[-1]
    if channels == 3:
        return images
    if channels != 1:
        raise ValueError(
            "grey_to_rgb expects images with 1 (grey) or 3 (RGB) channels on the last axis. "
            f"Received shape {tuple(images.shape)}; add a channel axis to [H, W] images."
        )
    return ops.concatenate([images, images, images], axis=-1)


def resize_faces(images, size, interpolation="bilinear"):
    """Resizes `[batch, H, W, C]` (or `[H, W, C]`) images to `size x size` (no antialiasing)."""
    images = ops.convert_to_tensor(images)
    if not keras.backend.is_float_dtype(images.dtype):
        images = ops.cast(images, "float32")
    if images.shape[-3] == size and images.shape[-2] == size:
        return images
    return ops.image.resize(images, (size, size), interpolation=interpolation, antialias=False)


def subtract_channel_mean(images, mean_rgb):
    """Subtracts a per-channel mean from `[..., 3]` 0-255 images (the authors' std is 1)."""
    images = ops.convert_to_tensor(images)
    if not keras.backend.is_float_dtype(images.dtype):
        images = ops.cast(images, "float32")
    return images - ops.convert_to_tensor(tuple(mean_rgb), dtype=images.dtype)


def preprocess_faces(images, size):
    """Grey or RGB face crops -> float32 RGB `size x size`, 0-255 (mean subtraction in-model).

    Args:
        images: `[batch, H, W]`, `[batch, H, W, 1]` or `[batch, H, W, 3]`, uint8 or float 0-255.
        size: side of the output.

    Returns:
        `[batch, size, size, 3]` float32 tensor.
    """
    images = ops.convert_to_tensor(images)
    if len(images.shape) == 3:
        images = ops.expand_dims(images, -1)
    images = ops.cast(images, "float32")
    return grey_to_rgb(resize_faces(images, size))


def augmentation_settings(source) -> dict:
    """The `AUGMENTATION_SETTINGS` of `source` (a `TeacherConfig`, a `FaceAugmentation`), by name.

    Args:
        source: any object with the five settings as attributes.

    Returns:
        A dict for ``augment_faces(images, uniforms, **settings)``.

    Example:

    >>> augmentation_settings(FaceAugmentation(zoom=0.1))["zoom"]
    0.1
    """
    return {name: getattr(source, name) for name in AUGMENTATION_SETTINGS}


def _choice(uniform):
    """Maps U[0, 1) to one of {-1, 0, +1} with equal probability."""
    return ops.clip(ops.floor(uniform * 3.0), 0.0, 2.0) - 1.0


def affine_parameters(
    uniforms,
    *,
    flip_probability=DEFAULT_FLIP_PROBABILITY,
    zoom=DEFAULT_ZOOM,
    rotation_degrees=DEFAULT_ROTATION_DEGREES,
    skew=DEFAULT_SKEW,
    augment_fraction=DEFAULT_AUGMENT_FRACTION,
):
    """The per-sample flip, zoom factor, angle and shear drawn from `uniforms`.

    Args:
        uniforms: `[batch, NUM_UNIFORMS]` values in [0, 1).
        flip_probability: probability of a horizontal flip.
        zoom: zoom magnitude z; the factor is one of {1 - z, 1, 1 + z}.
        rotation_degrees: rotation magnitude r; the angle is one of {-r, 0, +r} degrees.
        skew: shear magnitude s; the shear is one of {-s, 0, +s}.
        augment_fraction: probability that each of zoom, rotation and skew is applied.

    Returns:
        A dict of `[batch]` float32 tensors: `flip` (0 or 1), `scale` (1 - z, 1 or 1 + z),
        `angle` (radians) and `shear`.

    Example:

    >>> import numpy as np
    >>> no_change = np.array([[0.9, 0.9, 0.5, 0.9, 0.5, 0.9, 0.5]], "float32")
    >>> {k: float(v[0]) for k, v in affine_parameters(no_change).items()}
    {'flip': 0.0, 'scale': 1.0, 'angle': 0.0, 'shear': 0.0}
    """
    u = ops.cast(ops.convert_to_tensor(uniforms), "float32")
    flip = ops.cast(u[:, 0] < flip_probability, "float32")

    def gated(gate, choice, magnitude):
        on = ops.cast(gate < augment_fraction, "float32")
        return on * _choice(choice) * magnitude

    return {
        "flip": flip,
        "scale": 1.0 + gated(u[:, 1], u[:, 2], zoom),
        "angle": gated(u[:, 3], u[:, 4], rotation_degrees * math.pi / 180.0),
        "shear": gated(u[:, 5], u[:, 6], skew),
    }


def affine_matrices(parameters, height, width):
    """Composes flip, zoom, rotation and shear about the centre into `[batch, 8]` transforms.

    The rows use `keras.ops.image.affine_transform`'s convention (output pixel -> input point):
    with q the output point relative to the centre, the input point is `F Z R S q` + centre,
    where F mirrors x when flipping, Z = I / scale (scale > 1 zooms in), R rotates by the angle
    and S = [[1, shear], [0, 1]].
    """
    flip_sign = 1.0 - 2.0 * parameters["flip"]
    inverse_scale = 1.0 / parameters["scale"]
    cos, sin = ops.cos(parameters["angle"]), ops.sin(parameters["angle"])
    shear = parameters["shear"]
    # R S = [[cos, cos * shear - sin], [sin, sin * shear + cos]]; then scale, then mirror row 0.
    a00 = flip_sign * inverse_scale * cos
    a01 = flip_sign * inverse_scale * (cos * shear - sin)
    a10 = inverse_scale * sin
    a11 = inverse_scale * (sin * shear + cos)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    a02 = cx - a00 * cx - a01 * cy
    a12 = cy - a10 * cx - a11 * cy
    zeros = ops.zeros_like(a00)
    return ops.stack([a00, a01, a02, a10, a11, a12, zeros, zeros], axis=1)


def augment_faces(images, uniforms, *, fill_mode="nearest", **settings):
    """Applies the authors' flip + affine augmentation to a batch of face crops.

    Args:
        images: `[batch, H, W, C]` float images (any value scale; grey or RGB).
        uniforms: `[batch, NUM_UNIFORMS]` random values in [0, 1) (e.g. from
            `tf.random.stateless_uniform`); the same values give the same output.
        fill_mode: how points outside the image are filled (`keras.ops.image.affine_transform`).
        **settings: any of `AUGMENTATION_SETTINGS` (``flip_probability``, ``zoom``,
            ``rotation_degrees``, ``skew``, ``augment_fraction``; see `affine_parameters`);
            the authors' values by default.

    Returns:
        The augmented `[batch, H, W, C]` float images. Samples drawn with no flip and no
        distortion are returned unchanged (bilinear sampling at the pixel centres is exact).

    Raises:
        ValueError: if `images` is not 4-D or `uniforms` has the wrong shape.

    Example:

    >>> import numpy as np
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> flip_only = np.array([[0.0, 0.9, 0, 0.9, 0, 0.9, 0]], "float32")
    >>> augment_faces(x, flip_only)[0, 0, :, 0].numpy().tolist()
    [3.0, 2.0, 1.0, 0.0]
    """
    images = ops.convert_to_tensor(images)
    if len(images.shape) != 4:
        raise ValueError(
            f"augment_faces expects a batch [batch, H, W, C]; received shape {tuple(images.shape)}."
        )
    uniforms = ops.convert_to_tensor(uniforms)
    if len(uniforms.shape) != 2 or uniforms.shape[-1] != NUM_UNIFORMS:
        raise ValueError(
            f"`uniforms` must have shape [batch, {NUM_UNIFORMS}] (one row of random values per "
            f"image); received shape {tuple(uniforms.shape)}."
        )
    if not keras.backend.is_float_dtype(images.dtype):
        images = ops.cast(images, "float32")
    parameters = affine_parameters(uniforms, **settings)
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        shape = ops.shape(images)
        height, width = ops.cast(shape[1], "float32"), ops.cast(shape[2], "float32")
    transforms = affine_matrices(parameters, height, width)
    return ops.image.affine_transform(
        images,
        ops.cast(transforms, images.dtype),
        interpolation="bilinear",
        fill_mode=fill_mode,
    )


@keras.saving.register_keras_serializable(package="kerasemo")
class FaceAugmentation(keras.layers.Layer):
    """The authors' flip + discrete affine augmentation as a Keras layer (identity at inference).

    Draws `NUM_UNIFORMS` uniform values per sample from its own `keras.random.SeedGenerator`
    and applies `augment_faces`. The tf.data pipeline of `kerasemo.data.face_records` calls
    `augment_faces` directly with stateless per-batch seeds instead; use this layer to augment
    on the accelerator inside a model.

    Args:
        flip_probability, zoom, rotation_degrees, skew, augment_fraction, fill_mode: see
            `augment_faces`.
        seed: int or None, seed of the layer's random generator.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    ```python
    layer = FaceAugmentation(seed=0)
    augmented = layer(images, training=True)
    ```
    """

    def __init__(
        self,
        flip_probability=DEFAULT_FLIP_PROBABILITY,
        zoom=DEFAULT_ZOOM,
        rotation_degrees=DEFAULT_ROTATION_DEGREES,
        skew=DEFAULT_SKEW,
        augment_fraction=DEFAULT_AUGMENT_FRACTION,
        fill_mode="nearest",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for key, value in (
            ("flip_probability", flip_probability),
            ("augment_fraction", augment_fraction),
        ):
            if not 0 <= value <= 1:
                raise ValueError(f"`{key}` must be in [0, 1]. Received: {key}={value!r}.")
        if not 0 <= zoom < 1:
            raise ValueError(f"`zoom` must be in [0, 1). Received: zoom={zoom!r}.")
        self.flip_probability = float(flip_probability)
        self.zoom = float(zoom)
        self.rotation_degrees = float(rotation_degrees)
        self.skew = float(skew)
        self.augment_fraction = float(augment_fraction)
        self.fill_mode = fill_mode
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        batch = ops.shape(inputs)[0]
        uniforms = keras.random.uniform((batch, NUM_UNIFORMS), seed=self.seed_generator)
        return augment_faces(inputs, uniforms, fill_mode=self.fill_mode, **augmentation_settings(self))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(augmentation_settings(self), fill_mode=self.fill_mode, seed=self.seed)
        return config
