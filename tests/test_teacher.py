"""Tests of the SE-ResNet teacher, its weight loading, augmentation and frames-to-tracks API."""

import keras
import numpy as np
import pytest

from kerasemo.config import load_config
from kerasemo.models import count_conv_flops
from kerasemo.models.teacher import (
    PUBLISHED_SE_RESNET50_8WAY_PARAMS,
    PUBLISHED_SE_RESNET50_PARAMS,
    ChannelMeanSubtraction,
    SEResNetTeacher,
    TeacherWeightsError,
    load_teacher,
    teacher_from_config,
)
from kerasemo.models.teacher_inference import (
    aggregate_frame_logits,
    frame_index_for_time,
    frame_window,
    predict_frame_logits,
    time_of_frame_index,
)
from kerasemo.vision import NUM_UNIFORMS, FaceAugmentation, augment_faces, preprocess_faces

# A teacher small enough for fast tests.
SMALL = dict(input_size=32, blocks_per_stage=(1, 1, 1, 1), base_width=8)


def _trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


@pytest.fixture(scope="module")
def small_teacher():
    return SEResNetTeacher(**SMALL)


# ---------------------------------------------------------------------------------------------
# Architecture and parameter counts.


def test_paper_size_parameter_counts_match_published_se_resnet50():
    # Hu et al. (2018) report 28.1M parameters for SE-ResNet-50 with 1000 classes; the exact
    # count of the reference implementation is 28,088,024 (BN moving statistics excluded).
    imagenet = SEResNetTeacher(num_classes=1000)
    assert PUBLISHED_SE_RESNET50_PARAMS == 28_088_024
    assert _trainable(imagenet) == PUBLISHED_SE_RESNET50_PARAMS
    assert round(_trainable(imagenet) / 1e6, 1) == 28.1
    del imagenet
    # The 8-way head: 28,088,024 - 2048 x 992 - 992.
    teacher = teacher_from_config(load_config("paper").teacher)
    assert PUBLISHED_SE_RESNET50_8WAY_PARAMS == 28_088_024 - 2048 * 992 - 992 == 26_055_416
    assert _trainable(teacher) == PUBLISHED_SE_RESNET50_8WAY_PARAMS
    assert teacher.count_params() == 26_108_536  # + BN moving mean and variance
    assert tuple(teacher.input.shape) == (None, 224, 224, 3)
    assert tuple(teacher.output.shape) == (None, 8)
    # 3.86 GMACs per 224 x 224 frame (Hu et al.: 3.87 GFLOPs counted as multiply-adds).
    flops = count_conv_flops(teacher, (224, 224, 3))
    assert flops["uncounted"] == []
    assert flops["macs"] / 1e9 == pytest.approx(3.86, abs=0.01)


def test_blocks_squeeze_excitation_and_shortcuts():
    teacher = SEResNetTeacher(input_size=32, blocks_per_stage=(2, 1, 1, 1), base_width=8)
    names = {layer.name for layer in teacher.layers}
    for block in ("stage1_block1", "stage1_block2", "stage4_block1"):
        for suffix in ("1x1_reduce", "3x3", "1x1_increase", "se_reduce", "se_expand", "se_scale"):
            assert f"{block}_{suffix}" in names
        # BN after every conv, no conv bias.
        for conv in ("1x1_reduce", "3x3", "1x1_increase"):
            assert not teacher.get_layer(f"{block}_{conv}").use_bias
            assert f"{block}_{conv}_bn" in names
    # Projection shortcut on the first block of each stage only.
    assert "stage1_block1_proj" in names and "stage1_block2_proj" not in names
    # SE reduction 16: 4 x 8 = 32 channels -> 2 -> 32.
    assert teacher.get_layer("stage1_block1_se_reduce").units == 2
    assert teacher.get_layer("stage1_block1_se_expand").units == 32
    assert teacher.get_layer("dropout").rate == 0.5


def test_stride_placement_changes_flops_not_parameters():
    caffe = SEResNetTeacher(**SMALL)
    torch_style = SEResNetTeacher(**SMALL, stride_on="3x3")
    assert tuple(caffe.get_layer("stage2_block1_1x1_reduce").strides) == (2, 2)
    assert tuple(caffe.get_layer("stage2_block1_3x3").strides) == (1, 1)
    assert tuple(torch_style.get_layer("stage2_block1_1x1_reduce").strides) == (1, 1)
    assert tuple(torch_style.get_layer("stage2_block1_3x3").strides) == (2, 2)
    assert caffe.count_params() == torch_style.count_params()
    assert (
        count_conv_flops(torch_style, (32, 32, 3))["forward"]
        > count_conv_flops(caffe, (32, 32, 3))["forward"]
    )
    for model in (caffe, torch_style):
        assert tuple(model.get_layer("stage4_block1_add").output.shape) == (None, 1, 1, 64 * 4)


def test_mean_subtraction_inside_the_model(small_teacher):
    mean = np.array(small_teacher.mean_rgb, "float32")
    assert small_teacher.layers[1].name == "mean_subtraction"
    raw = SEResNetTeacher(**SMALL, normalize_input=False)
    raw.set_weights(small_teacher.get_weights())
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        small_teacher.predict(images, verbose=0), raw.predict(images - mean, verbose=0), atol=1e-5
    )
    layer = ChannelMeanSubtraction(mean=(1.0, 2.0, 3.0))
    np.testing.assert_allclose(np.asarray(layer(np.full((1, 1, 1, 3), 10.0, "float32"))).ravel(), [9, 8, 7])


def test_logits_are_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    teacher = SEResNetTeacher(**SMALL)
    assert teacher.get_layer("conv1").compute_dtype == "float16"
    logits = teacher(np.full((1, 32, 32, 3), 128, "float32"), training=False)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(blocks_per_stage=(3, 4, 6)), "4 positive integers"),
        (dict(base_width=0), "base_width"),
        (dict(input_size=16), "at least 32"),
        (dict(dropout=1.0), "dropout"),
        (dict(stride_on="7x7"), "stride_on"),
        (dict(mean_rgb=(1.0, 2.0)), "mean_rgb"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SEResNetTeacher(**{**SMALL, **kwargs})


# ---------------------------------------------------------------------------------------------
# Serialisation and weights.


def test_keras_round_trip(small_teacher, tmp_path):
    path = tmp_path / "teacher.keras"
    small_teacher.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, SEResNetTeacher)
    assert restored.get_config() == small_teacher.get_config()
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        restored.predict(images, verbose=0), small_teacher.predict(images, verbose=0), atol=1e-6
    )
    # The config round-trips on its own too.
    clone = SEResNetTeacher.from_config(small_teacher.get_config())
    assert clone.count_params() == small_teacher.count_params()


def _teacher_config(**overrides):
    import dataclasses

    base = load_config("demo").teacher
    return dataclasses.replace(base, **{"input_size": 32, "base_width": 8, **overrides})


def test_load_teacher_from_weights_and_keras_files(tmp_path):
    config = _teacher_config()
    original = load_teacher(None, config)
    images = np.random.default_rng(2).integers(0, 256, (2, 32, 32, 3)).astype("float32")
    expected = original.predict(images, verbose=0)
    original.save_weights(tmp_path / "t.weights.h5")
    original.save(tmp_path / "t.keras")
    for name in ("t.weights.h5", "t.keras"):
        loaded = load_teacher(tmp_path / name, config)
        np.testing.assert_allclose(loaded.predict(images, verbose=0), expected, atol=1e-6)


def test_load_teacher_mismatch_errors_name_the_layer_and_config(tmp_path):
    load_teacher(None, _teacher_config()).save_weights(tmp_path / "t.weights.h5")
    with pytest.raises(TeacherWeightsError) as error:
        load_teacher(tmp_path / "t.weights.h5", _teacher_config(base_width=16))
    message = str(error.value)
    assert "Layer 'conv1'" in message
    assert "(7, 7, 3, 8)" in message and "(7, 7, 3, 16)" in message
    assert "teacher.base_width=8" in message and "blocks_per_stage=[1, 1, 1, 1]" in message

    with pytest.raises(TeacherWeightsError, match="blocks_per_stage"):
        load_teacher(tmp_path / "t.weights.h5", _teacher_config(blocks_per_stage=(1, 2, 1, 1)))


def test_load_teacher_new_head(tmp_path):
    nine = SEResNetTeacher(num_classes=9, **SMALL)
    nine.save_weights(tmp_path / "nine.weights.h5")
    with pytest.raises(TeacherWeightsError, match="Layer 'classifier'.*allow_new_head=True"):
        load_teacher(tmp_path / "nine.weights.h5", _teacher_config())
    teacher = load_teacher(tmp_path / "nine.weights.h5", _teacher_config(), allow_new_head=True)
    np.testing.assert_array_equal(
        teacher.get_layer("conv1").kernel.numpy(), nine.get_layer("conv1").kernel.numpy()
    )
    assert tuple(teacher.output.shape) == (None, 8)
    nine.save(tmp_path / "nine.keras")
    with pytest.raises(TeacherWeightsError, match="9 outputs"):
        load_teacher(tmp_path / "nine.keras", _teacher_config())


def test_load_teacher_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_teacher(tmp_path / "missing.keras", _teacher_config())
    (tmp_path / "old.h5").write_bytes(b"")
    with pytest.raises(TeacherWeightsError, match="Unknown teacher weights format"):
        load_teacher(tmp_path / "old.h5", _teacher_config())


# ---------------------------------------------------------------------------------------------
# Augmentation and preprocessing.


def _faces(n=4, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (n, 48, 48, 1)).astype("float32")
    images[:, 10:14, 5:40] = 255.0  # structure, so that warps show
    return images


def test_augmentation_is_deterministic_and_changes_images():
    images = _faces()
    uniforms = np.random.default_rng(3).random((4, NUM_UNIFORMS)).astype("float32")
    first = np.asarray(augment_faces(images, uniforms))
    second = np.asarray(augment_faces(images, uniforms))
    np.testing.assert_array_equal(first, second)
    everything = np.array([[0.0, 0.0, 0.99, 0.0, 0.99, 0.0, 0.99]] * 4, "float32")
    changed = np.asarray(augment_faces(images, everything))
    assert np.abs(changed - images).mean() > 5.0
    other = np.asarray(augment_faces(images, 1 - everything + 0.001))  # all gates off
    np.testing.assert_allclose(other, images, atol=1e-4)


def test_flip_is_exact_and_parameters_are_discrete():
    from kerasemo.vision import affine_parameters

    images = _faces(1)
    flip = np.array([[0.0, 0.9, 0.0, 0.9, 0.0, 0.9, 0.0]], "float32")
    np.testing.assert_allclose(np.asarray(augment_faces(images, flip)), images[:, :, ::-1], atol=1e-4)
    uniforms = np.random.default_rng(0).random((4000, NUM_UNIFORMS)).astype("float32")
    params = {k: np.asarray(v, "float64") for k, v in affine_parameters(uniforms).items()}
    np.testing.assert_allclose(np.unique(np.round(params["scale"], 5)), [0.96, 1.0, 1.04])
    np.testing.assert_allclose(np.unique(np.round(np.degrees(params["angle"]), 3)), [-10, 0, 10])
    np.testing.assert_allclose(np.unique(np.round(params["shear"], 5)), [-0.1, 0.0, 0.1])
    assert params["flip"].mean() == pytest.approx(0.5, abs=0.03)
    # Each distortion is drawn for half the samples; a third of those draw 0.
    assert (params["angle"] != 0).mean() == pytest.approx(0.5 * 2 / 3, abs=0.03)


def test_face_augmentation_layer():
    layer = FaceAugmentation(seed=1)
    images = _faces(2)
    np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
    assert np.asarray(layer(images, training=True)).shape == images.shape
    assert FaceAugmentation.from_config(layer.get_config()).get_config() == layer.get_config()


def test_preprocess_faces():
    grey = np.full((2, 48, 48), 7, "uint8")
    rgb = np.asarray(preprocess_faces(grey, 64))
    assert rgb.shape == (2, 64, 64, 3) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb, 7.0)


# ---------------------------------------------------------------------------------------------
# Frames to tracks.


def test_predict_frame_logits_resizes_any_crop(small_teacher):
    rng = np.random.default_rng(4)
    crops = rng.integers(0, 256, (5, 40, 40, 3)).astype("uint8")
    logits = predict_frame_logits(small_teacher, crops, batch_size=2)
    assert logits.shape == (5, 8) and logits.dtype == np.float32
    resized = np.asarray(keras.ops.image.resize(crops.astype("float32"), (32, 32)))
    np.testing.assert_allclose(logits, small_teacher.predict(resized, verbose=0), atol=1e-4)
    # A list of crops of different sizes, and grey crops.
    mixed = [crops[0], rng.integers(0, 256, (50, 30, 3)).astype("uint8"), crops[1][..., 0]]
    assert predict_frame_logits(small_teacher, mixed).shape == (3, 8)
    assert predict_frame_logits(small_teacher, np.zeros((0, 32, 32, 3))).shape == (0, 8)
    with pytest.raises(ValueError, match="Face crop 0 has shape"):
        predict_frame_logits(small_teacher, [np.zeros((4, 4, 2))])


def test_aggregate_frame_logits_worked_numbers():
    frames = np.array([[1.0, -2.0, 0.0], [0.5, 3.0, -1.0], [-4.0, 1.0, 2.0]], "float32")
    np.testing.assert_allclose(aggregate_frame_logits(frames), [1.0, 3.0, 2.0])
    np.testing.assert_allclose(aggregate_frame_logits(frames, "mean"), [-2.5 / 3, 2.0 / 3, 1.0 / 3])
    tensor = aggregate_frame_logits(keras.ops.convert_to_tensor(frames), "max")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), [1.0, 3.0, 2.0])
    with pytest.raises(ValueError, match="No frames to aggregate"):
        aggregate_frame_logits(np.zeros((0, 8)))
    with pytest.raises(ValueError, match="method must be one of"):
        aggregate_frame_logits(frames, "median")


def test_frame_index_for_time_worked_numbers():
    # floor(max(25 t - 1, 0) / 6) + 1, worked by hand:
    # t = 0     -> max(-1, 0) = 0         -> 0 + 1 = 1
    # t = 0.24  -> 6 - 1 = 5, 5 / 6       -> 0 + 1 = 1
    # t = 0.28  -> 7 - 1 = 6, 6 / 6 = 1   -> 2
    # t = 0.52  -> 13 - 1 = 12, 12 / 6    -> 3
    # t = 1.0   -> 24 / 6 = 4             -> 5
    # t = 2.5   -> 61.5 / 6 = 10.25       -> 11
    # t = 60    -> 1499 / 6 = 249.8       -> 250
    times = [0.0, 0.04, 0.24, 0.28, 0.52, 1.0, 2.5, 60.0]
    assert [frame_index_for_time(t) for t in times] == [1, 1, 1, 2, 3, 5, 11, 250]
    np.testing.assert_array_equal(frame_index_for_time(np.array(times)), [1, 1, 1, 2, 3, 5, 11, 250])
    # Inverse: labelled frame k is video frame 6 (k - 1) + 1, at (6 (k - 1) + 1) / 25 s.
    assert time_of_frame_index(1) == pytest.approx(0.04)
    assert time_of_frame_index(2) == pytest.approx(0.28)
    assert time_of_frame_index(11) == pytest.approx(2.44)
    k = np.arange(1, 2000)
    np.testing.assert_array_equal(frame_index_for_time(time_of_frame_index(k)), k)
    # Other frame rates and strides.
    assert frame_index_for_time(1.0, fps=30, stride=5) == 6  # floor(29 / 5) + 1
    with pytest.raises(ValueError):
        frame_index_for_time(-0.1)
    with pytest.raises(ValueError):
        time_of_frame_index(0)


def test_frame_window():
    # 4 s starting at 1 s: frames 5 (t = 1.0) to 21 (t = 5.0: floor(124 / 6) + 1 = 21).
    assert frame_window(1.0, 5.0, num_frames=100) == (4, 21)
    assert frame_window(1.0, 5.0, num_frames=10) == (4, 10)
    assert frame_window(50.0, 54.0, num_frames=10) == (10, 10)
    with pytest.raises(ValueError):
        frame_window(2.0, 1.0, 10)
