"""Distillation losses: the student learns the teacher's softened predictions (paper section 3).

Three conventions, one function (`distillation_loss`; `kerasemo.models.Distiller` calls it from
`compute_loss`):

- ``"authors"`` (default): ``-sum_c softmax(t / T)_c * log softmax(s / T)_c`` with the same
  temperature T (2) for teacher logits ``t`` and student logits ``s``, no ``T**2`` factor. The
  authors sum this over the batch; kerasemo averages it (so logged losses do not depend on the
  batch size) and multiplies the learning rate by the batch size instead, which gives exactly the
  authors' parameter update (see `kerasemo.training.authors_learning_rate`).
- ``"hinton_t2"``: the same cross-entropy multiplied by ``T**2`` (Hinton et al. 2015 and the Keras
  distillation examples), which keeps gradient magnitudes independent of T.
- ``"l2_logits"``: ``0.5 * ||s - t||**2`` regression of the teacher's logits, the paper's weaker
  alternative.

Arguments are keyword-only (``teacher_logits=``, ``student_logits=``) because the loss is not
symmetric: swapping them trains the teacher's distribution towards the student's, silently.

Example:

>>> import numpy as np
>>> teacher = np.array([[4.0, 0.0, 0, 0, 0, 0, 0, 0]])
>>> student = np.zeros((1, 8))
>>> float(distillation_loss(teacher_logits=teacher, student_logits=student)[0]) > 0
True
"""

from __future__ import annotations

from keras import ops

from kerasemo.checks import check_positive_number

CONVENTIONS = ("authors", "hinton_t2", "l2_logits")


def _check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(
            f"Unknown distillation convention {convention!r}; expected one of "
            f"{', '.join(CONVENTIONS)}."
        )
    return convention


def _check_temperature(temperature) -> float:
    return check_positive_number(temperature, "temperature")


def distillation_loss(*, teacher_logits, student_logits, temperature=2.0, convention="authors"):
    """Per-example distillation loss between teacher and student logits, in float32.

    Args:
        teacher_logits: ``[batch, classes]`` pooled teacher logits (the targets; no gradient
            flows into them).
        student_logits: ``[batch, classes]`` student logits.
        temperature: softmax temperature T for both teacher and student (ignored by
            ``"l2_logits"``).
        convention: ``"authors"``, ``"hinton_t2"`` or ``"l2_logits"`` (module docstring).

    Returns:
        float32 tensor ``[batch]``.

    Raises:
        ValueError: for an unknown convention, a non-positive temperature, or logits whose
            shapes differ.
    """
    convention = _check_convention(convention)
    temperature = _check_temperature(temperature)
    teacher = ops.stop_gradient(ops.cast(teacher_logits, "float32"))
    student = ops.cast(student_logits, "float32")
    if tuple(teacher.shape[1:]) != tuple(student.shape[1:]):
        raise ValueError(
            "teacher_logits and student_logits must have the same number of classes; received "
            f"{tuple(teacher.shape)} (teacher) and {tuple(student.shape)} (student)."
        )
    if convention == "l2_logits":
        return 0.5 * ops.sum(ops.square(student - teacher), axis=-1)
    targets = ops.softmax(teacher / temperature, axis=-1)
    log_probabilities = ops.log_softmax(student / temperature, axis=-1)
    loss = -ops.sum(targets * log_probabilities, axis=-1)
    if convention == "hinton_t2":
        loss = loss * (temperature**2)
    return loss
