"""Tests of the VGG-M speech student (paper Table 4) and of the analytic FLOP counter."""

import keras
import numpy as np
import pytest

from kerasemo.models import VGGMStudent, count_conv_flops
from kerasemo.models.student import MIN_INPUT_FRAMES, MIN_NETWORK_BINS

# A small student for tests where the paper's widths are not the point.
SMALL = dict(conv_filters=(8, 16, 16, 16, 16), fc6_units=32, fc7_units=16)

# Table 4 for a 512 x 400 input: layer -> (support, stride, filters, output height x width).
TABLE_4 = {
    "conv1": ((7, 7), (2, 2), 96, (254, 198)),
    "mpool1": ((3, 3), (2, 2), None, (126, 99)),
    "conv2": ((5, 5), (2, 2), 256, (62, 49)),
    "mpool2": ((3, 3), (2, 2), None, (30, 24)),
    "conv3": ((3, 3), (1, 1), 256, (30, 24)),
    "conv4": ((3, 3), (1, 1), 256, (30, 24)),
    "conv5": ((3, 3), (1, 1), 256, (30, 24)),
    "mpool5": ((5, 3), (3, 2), None, (9, 11)),
    "fc6": ((9, 1), (1, 1), 4096, (1, 11)),
    "apool6": (None, None, None, (1, 1)),
    "fc7": ((1, 1), (1, 1), 1024, (1, 1)),
    "fc8": ((1, 1), (1, 1), 8, (1, 1)),
}


def _spectrogram(rng, batch, bins, frames):
    return np.abs(rng.standard_normal((batch, bins, frames))).astype("float32")


@pytest.fixture(scope="module")
def paper_student():
    """The paper-size student with a fixed 400-frame input (built once, never trained)."""
    return VGGMStudent(input_frames=400)


# ---------------------------------------------------------------------------------------------
# Architecture.


@pytest.mark.parametrize("name", list(TABLE_4))
def test_table4_row(paper_student, name):
    support, stride, filters, size = TABLE_4[name]
    layer = paper_student.get_layer(name)
    output_shape = tuple(layer.output.shape)
    assert output_shape[1:3] == size
    if filters is not None:
        assert layer.filters == filters
        assert output_shape[3] == filters
    else:
        # Pooling keeps the channels of the layer before it.
        assert output_shape[3] == {"mpool1": 96, "apool6": 4096}.get(name, 256)
    if name.startswith(("conv", "fc")):
        assert tuple(layer.kernel_size) == support
        assert tuple(layer.strides) == stride
    elif name.startswith("mpool"):
        assert tuple(layer.pool_size) == support
        assert tuple(layer.strides) == stride


def test_layer_sequence_and_logits(paper_student):
    names = [layer.name for layer in paper_student.layers]
    expected = ["spectrogram", "normalize", "add_channel"]
    for index in (1, 2, 3, 4, 5):
        expected += [f"conv{index}", f"bn{index}", f"relu{index}"]
    expected += ["fc6", "bn6", "relu6", "apool6", "fc7", "bn7", "relu7", "fc8", "logits"]
    assert [name for name in names if name in expected] == expected
    # BN after every conv except fc8, conv biases only in fc8.
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"):
        assert not paper_student.get_layer(name).use_bias
    assert paper_student.get_layer("fc8").use_bias
    assert "bn8" not in names and "relu8" not in names
    assert tuple(paper_student.output.shape) == (None, 8)


def test_paper_size_forward_batch_one(paper_student, rng):
    logits = paper_student(_spectrogram(rng, 1, 512, 400), training=False)
    assert tuple(logits.shape) == (1, 8)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))


def _expected_params(num_classes, conv_filters, fc6_units, fc7_units, fc6_height):
    """Hand count from the layer formulas (BN: gamma, beta, moving mean, moving variance)."""
    kernels = [(7, 7), (5, 5), (3, 3), (3, 3), (3, 3)]
    total, channels_in = 0, 1
    for (kh, kw), filters in zip(kernels, conv_filters):
        total += kh * kw * channels_in * filters + 4 * filters  # no conv bias before BN
        channels_in = filters
    total += fc6_height * 1 * channels_in * fc6_units + 4 * fc6_units
    total += fc6_units * fc7_units + 4 * fc7_units
    total += fc7_units * num_classes + num_classes  # fc8: weights + bias, no BN
    non_trainable = 2 * (sum(conv_filters) + fc6_units + fc7_units)
    return total, total - non_trainable


def test_paper_size_parameter_count(paper_student):
    total, trainable = _expected_params(8, (96, 256, 256, 256, 256), 4096, 1024, 9)
    assert (total, trainable) == (16_053_224, 16_040_744)  # the numbers in the docstring
    assert paper_student.count_params() == total
    assert sum(int(np.prod(w.shape)) for w in paper_student.trainable_weights) == trainable


def test_authors_conv3_384_parameter_count():
    filters = (96, 256, 384, 256, 256)
    student = VGGMStudent(conv_filters=filters)
    total, trainable = _expected_params(8, filters, 4096, 1024, 9)
    assert (total, trainable) == (16_643_560, 16_630_824)
    assert student.count_params() == total
    assert sum(int(np.prod(w.shape)) for w in student.trainable_weights) == trainable
    assert student.get_layer("conv3").filters == 384


def test_257_bins_builds_with_fc6_height_4():
    student = VGGMStudent(input_bins=257, input_frames=400, **SMALL)
    assert tuple(student.get_layer("fc6").kernel.shape[:2]) == (4, 1)
    assert tuple(student.get_layer("mpool5").output.shape[1:3]) == (4, 11)
    assert student.fc6_height == 4


def test_mirror_input_matches_512_shapes(paper_student):
    mirrored = VGGMStudent(input_bins=257, mirror_input=True, input_frames=400, **SMALL)
    assert tuple(mirrored.get_layer("mirror").output.shape) == (None, 512, 400)
    for name, (_, _, _, size) in TABLE_4.items():
        assert tuple(mirrored.get_layer(name).output.shape[1:3]) == size
    assert tuple(mirrored.get_layer("fc6").kernel.shape[:2]) == (9, 1)
    assert tuple(mirrored.input.shape) == (None, 257, 400)


def test_mirror_input_equals_mirrored_512_input(rng):
    """Mirroring inside the model == feeding the mirrored 512-bin spectrogram (same weights)."""
    mirrored = VGGMStudent(input_bins=257, mirror_input=True, **SMALL)
    full = VGGMStudent(input_bins=512, **SMALL)
    full.set_weights(mirrored.get_weights())
    half = _spectrogram(rng, 2, 257, 80)
    whole = np.concatenate([half, half[:, -2:0:-1]], axis=1)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(mirrored(half)),
        keras.ops.convert_to_numpy(full(whole)),
        rtol=1e-4,
        atol=1e-4,
    )


# ---------------------------------------------------------------------------------------------
# Variable length.


def test_minimum_lengths_are_the_analytic_ones():
    # conv1 (63+2-7)//2+1=30 -> mpool1 (30+1-3)//2+1=15 -> conv2 (15+2-5)//2+1=7
    # -> mpool2 (7-3)//2+1=3 -> mpool5 (3-3)//2+1=1; with 62 frames mpool5 gets 2 columns.
    assert MIN_INPUT_FRAMES == 63
    assert MIN_NETWORK_BINS == 97


def test_two_lengths_and_minimum_through_one_model(rng):
    student = VGGMStudent(**SMALL)
    assert tuple(student.input.shape) == (None, 512, None)
    for frames in (MIN_INPUT_FRAMES, 150, 400):
        logits = keras.ops.convert_to_numpy(student(_spectrogram(rng, 2, 512, frames)))
        assert logits.shape == (2, 8)
        assert np.all(np.isfinite(logits))
    with pytest.raises(ValueError, match="at least 63 frames"):
        student(_spectrogram(rng, 1, 512, MIN_INPUT_FRAMES - 1))


def test_minimum_bins_builds_and_one_less_is_rejected(rng):
    student = VGGMStudent(input_bins=MIN_NETWORK_BINS, **SMALL)
    assert tuple(student.get_layer("fc6").kernel.shape[:2]) == (1, 1)
    assert student(_spectrogram(rng, 1, MIN_NETWORK_BINS, MIN_INPUT_FRAMES)).shape == (1, 8)
    with pytest.raises(ValueError, match="at least 97 frequency bins"):
        VGGMStudent(input_bins=MIN_NETWORK_BINS - 1, **SMALL)


def test_wrong_bin_count_at_call_time(rng):
    student = VGGMStudent(**SMALL)
    # Keras' own input-spec check names the expected and the received shape.
    with pytest.raises(ValueError, match=r"expected shape=\(None, 512, None\)"):
        student(_spectrogram(rng, 1, 257, 100))


# ---------------------------------------------------------------------------------------------
# Serialisation.


def test_get_config_from_config_round_trip():
    student = VGGMStudent(
        num_classes=5,
        input_bins=257,
        mirror_input=True,
        normalization_epsilon=1e-3,
        input_frames=120,
        batch_norm_momentum=0.8,
        dtype="float32",
        name="tiny",
        **SMALL,
    )
    config = student.get_config()
    assert config == {
        "num_classes": 5,
        "input_bins": 257,
        "conv_filters": [8, 16, 16, 16, 16],
        "fc6_units": 32,
        "fc7_units": 16,
        "mirror_input": True,
        "normalize_input": True,
        "normalization_epsilon": 1e-3,
        "input_frames": 120,
        "batch_norm_momentum": 0.8,
        "log_magnitude": False,
        "dtype": "float32",
        "name": "tiny",
        "trainable": True,
    }
    assert student.get_layer("normalize").epsilon == 1e-3
    revived = VGGMStudent.from_config(config)
    assert revived.get_config() == config
    assert revived.count_params() == student.count_params()


def test_keras_save_load_round_trip(tmp_path, rng):
    student = VGGMStudent(num_classes=4, **SMALL)
    x = _spectrogram(rng, 2, 512, 90)
    expected = student.predict(x, verbose=0)
    path = tmp_path / "student.keras"
    student.save(path)
    revived = keras.saving.load_model(path)
    assert isinstance(revived, VGGMStudent)
    assert revived.get_config() == student.get_config()
    np.testing.assert_allclose(revived.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)


def test_log_magnitude_student_compresses_before_normalising(tmp_path, rng):
    from kerasemo.audio import LogMagnitude, PerBinNormalization

    student = VGGMStudent(input_bins=257, log_magnitude=True, **SMALL)
    names = [layer.name for layer in student.layers]
    assert names[:4] == ["spectrogram", "log_magnitude", "normalize", "add_channel"]
    x = _spectrogram(rng, 2, 257, 90)
    compressed = LogMagnitude()(x)
    np.testing.assert_allclose(np.asarray(compressed), np.log1p(x), rtol=1e-6)
    # What the trunk sees is the per-bin normalised log spectrogram.
    trunk_input = keras.Model(student.input, student.get_layer("normalize").output)(x)
    np.testing.assert_allclose(np.asarray(trunk_input), np.asarray(PerBinNormalization()(np.log1p(x))), atol=1e-5)
    path = tmp_path / "log.keras"
    student.save(path)
    revived = keras.saving.load_model(path)
    assert revived.log_magnitude is True
    np.testing.assert_allclose(revived.predict(x, verbose=0), student.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="needs `normalize_input=True`"):
        VGGMStudent(log_magnitude=True, normalize_input=False, **SMALL)


def test_no_normalization_stage():
    student = VGGMStudent(normalize_input=False, **SMALL)
    names = [layer.name for layer in student.layers]
    assert "normalize" not in names
    assert names[:2] == ["spectrogram", "add_channel"]


# ---------------------------------------------------------------------------------------------
# Precision and training.


def test_mixed_precision_logits_are_float32(rng):
    keras.config.set_dtype_policy("mixed_float16")
    student = VGGMStudent(**SMALL)
    assert student.get_layer("conv1").compute_dtype == "float16"
    assert student.get_layer("logits").compute_dtype == "float32"
    logits = student(_spectrogram(rng, 2, 512, 80) * 1e4)
    assert logits.dtype == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))


def test_dtype_argument_sets_layer_policy():
    student = VGGMStudent(dtype="mixed_float16", **SMALL)
    assert student.get_layer("conv1").compute_dtype == "float16"
    assert student.get_layer("logits").compute_dtype == "float32"
    assert student.get_config()["dtype"] == "mixed_float16"
    policy_arg = VGGMStudent(dtype=keras.DTypePolicy("mixed_float16"), **SMALL)
    assert policy_arg.get_config()["dtype"] == "mixed_float16"


def test_tiny_student_fits_a_fixed_batch(rng):
    student = VGGMStudent(
        num_classes=3, input_bins=128, conv_filters=(4, 8, 8, 8, 8), fc6_units=16, fc7_units=8
    )
    x = _spectrogram(rng, 6, 128, 64)
    y = keras.utils.to_categorical(np.arange(6) % 3, 3)
    student.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    losses = [float(student.train_on_batch(x, y)) for _ in range(15)]
    assert np.all(np.isfinite(losses))
    assert min(losses[-3:]) < 0.5 * losses[0], losses


# ---------------------------------------------------------------------------------------------
# Constructor validation.


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(conv_filters=(96, 256, 256, 256)), ValueError, "5 positive integers.*4 values"),
        (dict(conv_filters=96), ValueError, "sequence of 5 positive integers"),
        (dict(conv_filters=(96, 256, 0, 256, 256)), ValueError, r"conv_filters\[2\].*0"),
        (dict(mirror_input=True), ValueError, "input_bins` must be 257.*input_bins=512"),
        (dict(batch_norm_momentum=1.0), ValueError, "batch_norm_momentum` must be a number in \\[0, 1\\)"),
        (dict(input_bins=64), ValueError, "at least 97 frequency bins.*input_bins=64"),
        (dict(num_classes=0), ValueError, "num_classes=0"),
        (dict(num_classes=2.0), ValueError, "positive integer.*float"),
        (dict(fc6_units=-1), ValueError, "fc6_units=-1"),
        (dict(fc7_units=True), ValueError, "fc7_units=True"),
        (dict(mirror_input="yes"), ValueError, "mirror_input.*True or False"),
        (dict(normalize_input=1), ValueError, "normalize_input.*True or False"),
        (dict(normalization_epsilon=0.0), ValueError, "normalization_epsilon=0.0"),
        (dict(input_frames=62), ValueError, "at least 63.*input_frames=62"),
        (dict(input_frames=400.0), ValueError, "input_frames=400.0"),
    ],
)
def test_constructor_validation(kwargs, error, message):
    with pytest.raises(error, match=message):
        VGGMStudent(**kwargs)


# ---------------------------------------------------------------------------------------------
# FLOPs.


def test_count_conv_flops_tiny_model_by_hand():
    inputs = keras.Input((10, 8, 3))
    x = keras.layers.Conv2D(4, (3, 3), strides=1, padding="valid", name="conv")(inputs)  # 8x6x4
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)  # 4x3x4
    x = keras.layers.Flatten(name="flat")(x)  # 48
    outputs = keras.layers.Dense(5, name="dense")(x)
    model = keras.Model(inputs, outputs)
    flops = count_conv_flops(model, (10, 8, 3))
    conv = 2 * 8 * 6 * 4 * 3 * 3 * 3  # 2 * H_out * W_out * C_out * kh * kw * C_in = 10,368
    dense = 2 * 48 * 5  # 480
    assert flops["per_layer"] == {"conv": conv, "dense": dense}
    assert flops["forward"] == conv + dense == 10_848
    assert flops["macs"] == 5_424
    assert flops["training_step"] == 3 * 10_848
    assert flops["other"] == {"bn": 2 * 192, "relu": 192, "pool": 48 * 3}
    assert flops["uncounted"] == []


def test_count_conv_flops_variable_length_model_and_errors():
    student = VGGMStudent(**SMALL)
    short = count_conv_flops(student, (512, 100))["forward"]
    long = count_conv_flops(student, (512, 400))["forward"]
    assert long > short > 0
    with pytest.raises(ValueError, match="does not match"):
        count_conv_flops(student, (257, 400))
    with pytest.raises(ValueError, match="excludes the batch axis"):
        count_conv_flops(student, (1, 512, 400))


def test_paper_student_forward_flops(paper_student):
    flops = count_conv_flops(paper_student, (512, 400))
    # (name, H_out, W_out, C_out, kh, kw, C_in) from Table 4.
    rows = [
        ("conv1", 254, 198, 96, 7, 7, 1),
        ("conv2", 62, 49, 256, 5, 5, 96),
        ("conv3", 30, 24, 256, 3, 3, 256),
        ("conv4", 30, 24, 256, 3, 3, 256),
        ("conv5", 30, 24, 256, 3, 3, 256),
        ("fc6", 1, 11, 4096, 9, 1, 256),
        ("fc7", 1, 1, 1024, 1, 1, 4096),
        ("fc8", 1, 1, 8, 1, 1, 1024),
    ]
    expected = {name: 2 * h * w * c * kh * kw * ci for name, h, w, c, kh, kw, ci in rows}
    assert flops["per_layer"] == expected
    assert flops["forward"] == sum(expected.values()) == 6_970_304_256  # 6.97 GFLOPs
