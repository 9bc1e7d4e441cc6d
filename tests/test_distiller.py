"""The Distiller and the distillation losses: conventions, roles, precision, serialisation."""

import keras
import numpy as np
import pytest

from kerasemo import training
from kerasemo.models import Distiller, VGGMStudent, distillation_loss

TINY = dict(input_bins=257, mirror_input=True, conv_filters=(8, 16, 16, 16, 16), fc6_units=32, fc7_units=16)


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _batch(rng, size=8, frames=100):
    spectrograms = rng.gamma(2.0, 1000.0, size=(size, 257, frames)).astype("float32")
    teacher = (rng.standard_normal((size, 8)) * 3).astype("float32")
    return spectrograms, teacher


def test_authors_loss_is_softened_cross_entropy_against_numpy(rng):
    teacher, student = rng.standard_normal((5, 8)) * 3, rng.standard_normal((5, 8)) * 3
    expected = -(_softmax(teacher / 2) * np.log(_softmax(student / 2))).sum(axis=1)
    got = distillation_loss(teacher_logits=teacher, student_logits=student, temperature=2.0)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)
    hinton = distillation_loss(
        teacher_logits=teacher, student_logits=student, temperature=2.0, convention="hinton_t2"
    )
    np.testing.assert_allclose(np.asarray(hinton), 4 * expected, rtol=1e-5)
    l2 = distillation_loss(teacher_logits=teacher, student_logits=student, convention="l2_logits")
    np.testing.assert_allclose(np.asarray(l2), 0.5 * ((student - teacher) ** 2).sum(axis=1), rtol=1e-5)


def test_loss_is_asymmetric_and_keyword_only(rng):
    teacher, student = rng.standard_normal((4, 8)) * 3, rng.standard_normal((4, 8))
    forward = distillation_loss(teacher_logits=teacher, student_logits=student)
    swapped = distillation_loss(teacher_logits=student, student_logits=teacher)
    assert not np.allclose(np.asarray(forward), np.asarray(swapped))
    with pytest.raises(TypeError):
        distillation_loss(teacher, student)  # positional use is refused: roles must be named


def test_swapped_batches_are_refused_with_a_clear_message(rng):
    spectrograms, teacher = _batch(rng)
    distiller = Distiller(VGGMStudent(**TINY))
    distiller.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="looks like teacher logits. Batches must be"):
        distiller.fit(teacher, spectrograms, epochs=1, verbose=0)
    distiller = Distiller(VGGMStudent(**TINY))
    distiller.compile(optimizer="sgd")
    with pytest.raises(ValueError, match=r"needs the teacher's pooled logits as targets, shaped \[batch, 8\]"):
        distiller.fit(spectrograms, spectrograms[:, :5, 0], epochs=1, verbose=0)


def test_only_the_student_learns_and_loss_falls_on_a_fixed_batch(rng):
    spectrograms, teacher = _batch(rng)
    distiller = Distiller(VGGMStudent(**TINY), temperature=2.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9))
    history = distiller.fit(spectrograms, teacher, batch_size=8, epochs=12, verbose=0).history
    assert history["distillation_loss"][-1] < 0.8 * history["distillation_loss"][0]
    assert history["teacher_agreement"][-1] > history["teacher_agreement"][0]
    # The distiller's trainable weights are exactly the student's.
    assert {id(w) for w in distiller.trainable_weights} == {id(w) for w in distiller.student.trainable_weights}


def test_weight_decay_is_a_coupled_l2_on_kernels_in_training_only(rng):
    spectrograms, teacher = _batch(rng, size=4)
    distiller = Distiller(VGGMStudent(**TINY), weight_decay=1e-3)
    logits = distiller(spectrograms, training=False)
    train = float(distiller.compute_loss(y=teacher, y_pred=logits, training=True))
    evaluate = float(distiller.compute_loss(y=teacher, y_pred=logits, training=False))
    kernels = [l.kernel for l in distiller.student.layers if isinstance(l, keras.layers.Conv2D)]
    penalty = 0.5 * 1e-3 * sum(float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert train - evaluate == pytest.approx(penalty, rel=1e-4)


def test_batch_mean_with_scaled_rate_reproduces_the_authors_summed_update(rng):
    """lr * B on the batch-mean loss (+ wd / B) gives the authors' summed-loss SGD step."""
    spectrograms, teacher = _batch(rng, size=4)
    batch, lr, wd = 4, 1e-4, 5e-4
    student = VGGMStudent(**TINY)
    weights = student.get_weights()

    def one_step(model, loss_reduction, learning_rate, decay):
        distiller = Distiller(model, weight_decay=decay)
        distiller.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9))
        if loss_reduction == "sum":
            distiller.compute_loss = _summed(distiller)
        distiller.train_on_batch(spectrograms, teacher)
        return [w.numpy() for w in model.trainable_weights]

    def _summed(distiller):
        mean_loss = distiller.compute_loss

        def compute_loss(x=None, y=None, y_pred=None, sample_weight=None, training=True):
            no_decay = Distiller.compute_loss(distiller, x, y, y_pred, sample_weight, training=False)
            decay = mean_loss(x, y, y_pred, sample_weight, training) - no_decay
            return no_decay * batch + decay

        return compute_loss

    authors = one_step(student, "sum", lr, wd)
    student.set_weights(weights)
    ours = one_step(
        student,
        "mean",
        training.authors_learning_rate(lr, batch),
        training.authors_weight_decay(wd, batch),
    )
    for a, b in zip(authors, ours, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def test_mixed_float16_training_stays_finite_with_float32_loss(rng):
    keras.config.set_dtype_policy("mixed_float16")
    spectrograms, teacher = _batch(rng)
    distiller = Distiller(VGGMStudent(**TINY))
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    assert isinstance(distiller.optimizer, keras.optimizers.LossScaleOptimizer)
    history = distiller.fit(spectrograms, teacher, batch_size=4, epochs=3, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    logits = distiller(spectrograms[:2], training=False)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32" and np.isfinite(np.asarray(logits)).all()
    loss = distiller.compute_loss(y=teacher[:2], y_pred=logits, training=False)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"


def test_distiller_round_trips_through_keras_files(tmp_path, rng):
    spectrograms, teacher = _batch(rng, size=4)
    distiller = Distiller(VGGMStudent(**TINY), temperature=3.0, convention="hinton_t2", weight_decay=1e-4)
    distiller.compile(optimizer="sgd")
    distiller.fit(spectrograms, teacher, epochs=1, verbose=0)
    distiller.save(tmp_path / "distiller.keras")
    restored = keras.saving.load_model(tmp_path / "distiller.keras")
    assert isinstance(restored, Distiller)
    assert (restored.temperature, restored.convention, restored.weight_decay) == (3.0, "hinton_t2", 1e-4)
    np.testing.assert_allclose(
        restored.student.predict(spectrograms, verbose=0),
        distiller.student.predict(spectrograms, verbose=0),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": 0}, "temperature` must be a finite number > 0"),
        ({"convention": "kl"}, "convention` must be one of authors, hinton_t2, l2_logits"),
        ({"weight_decay": -1.0}, "weight_decay` must be a finite number >= 0"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Distiller(VGGMStudent(**TINY), **kwargs)
    with pytest.raises(TypeError, match="must be a keras.Model"):
        Distiller("student")
