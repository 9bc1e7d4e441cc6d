"""`Distiller`: trains a speech student against precomputed teacher logits.

Keras 3 ships `keras.distillation.Distiller`, but it runs a live teacher on the student's own
input; here the teacher saw faces, the student hears voices, and the teacher's frame logits were
computed once when the shards were built. This `Distiller` wraps the student and reads the
teacher's pooled logits from each batch: batches are ``(student_input, teacher_logits)``.

It overrides `compute_loss` (not `train_step`), so Keras' own training loop, distribution
strategies and mixed-precision loss scaling apply unchanged. The distillation loss is computed in
float32 whatever the dtype policy. Under a `tf.distribute` strategy with N replicas in sync, the
returned loss is divided by N (as Keras' own losses do), so the gradients summed across replicas
are those of the mean over the global batch.

Weight decay is the authors' form (MatConvNet): an L2 term ``0.5 * decay * ||w||**2`` on the
convolution kernels added to the training loss, so its gradient ``decay * w`` goes through SGD's
momentum with the data gradient (coupled L2; Keras' optimizer `weight_decay` is the decoupled
form, which momentum does not amplify). It is added only in training, so validation losses are
pure distillation losses.

Example:

```python
from kerasemo.models import Distiller, VGGMStudent

student = VGGMStudent(input_bins=257, mirror_input=True)
distiller = Distiller(student, temperature=2.0)
distiller.compile(optimizer="sgd")
distiller.fit(train_ds, validation_data=val_ds)   # batches: (spectrogram, teacher logits)
student = distiller.student                         # the model to keep
```
"""

from __future__ import annotations

import keras
from keras import ops

from kerasemo.checks import check_non_negative_number, check_positive_number
from kerasemo.models.losses import CONVENTIONS, distillation_loss


def _replica_share(value):
    """`value / N` under a TensorFlow distribution strategy with N replicas in sync, else `value`.

    Replica gradients are summed, so each replica contributes its batch-mean loss divided by N
    (what Keras' built-in losses do); the logged loss is multiplied back by Keras.
    """
    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value if replicas == 1 else value * (1.0 / replicas)


def _static_shape(x):
    """The static shape as a tuple, or None when the rank is unknown (e.g. while tracing)."""
    try:
        return tuple(x.shape)
    except (AttributeError, TypeError, ValueError):
        return None


@keras.saving.register_keras_serializable(package="kerasemo")
class Distiller(keras.Model):
    """Wraps a student; its loss is the distillation loss to precomputed teacher logits.

    Args:
        student: a Keras model mapping the student input to ``[batch, classes]`` logits.
        temperature: softmax temperature of teacher and student (2 in the paper).
        convention: ``"authors"`` (softened cross-entropy, no T^2), ``"hinton_t2"`` or
            ``"l2_logits"`` (see `kerasemo.models.losses`).
        weight_decay: coefficient of the coupled L2 penalty on the student's kernels, as the
            authors' (MatConvNet) weight decay; 0 disables it. With the batch-mean loss, pass
            the authors' decay divided by the batch size to reproduce their update exactly
            (`kerasemo.training.authors_weight_decay`).
        **kwargs: passed to `keras.Model` (e.g. ``name``).

    Metrics: ``loss`` (training objective), ``distillation_loss`` (without weight decay) and
    ``teacher_agreement`` (fraction of examples whose student argmax equals the teacher's).

    Example:

    ```python
    distiller = Distiller(VGGMStudent(), temperature=2.0, convention="authors")
    ```
    """

    def __init__(self, student, temperature=2.0, convention="authors", weight_decay=0.0, **kwargs):
        if isinstance(student, dict):
            student = keras.saving.deserialize_keras_object(student)
        if not isinstance(student, keras.Model):
            raise TypeError(
                f"`student` must be a keras.Model that outputs logits; received "
                f"{type(student).__name__}."
            )
        if convention not in CONVENTIONS:
            raise ValueError(
                f"`convention` must be one of {', '.join(CONVENTIONS)}; received {convention!r}."
            )
        check_positive_number(temperature, "temperature")
        check_non_negative_number(weight_decay, "weight_decay")
        super().__init__(**kwargs)
        self.student = student
        self.temperature = float(temperature)
        self.convention = convention
        self.weight_decay = float(weight_decay)
        output_shape = tuple(student.output.shape) if hasattr(student, "output") else ()
        self.num_classes = output_shape[-1] if len(output_shape) == 2 else None
        self.distillation_tracker = keras.metrics.Mean(name="distillation_loss")
        self.agreement_tracker = keras.metrics.Mean(name="teacher_agreement")
        if student.built:
            self.built = True  # the student's weights are the distiller's (BackupAndRestore needs it)

    def build(self, input_shape=None):
        if not self.student.built:
            self.student.build(input_shape)
        self.built = True

    # --- guarding the roles -------------------------------------------------------------------

    def _check_student_input(self, x):
        shape = _static_shape(x)
        if shape is not None and self.num_classes is not None and len(shape) == 2 and shape[-1] == self.num_classes:
            raise ValueError(
                f"The Distiller received an input of shape {shape}, which looks like teacher "
                f"logits. Batches must be (student_input, teacher_logits): the student's "
                f"spectrogram first, the teacher's pooled logits second."
            )

    def _check_teacher_logits(self, y, y_pred):
        shape = _static_shape(y)
        if shape is None and y is not None:
            return  # rank unknown while tracing: the loss's own shape check applies
        expected = tuple(y_pred.shape[1:])
        if y is None or len(shape) != 2 or shape[1:] != expected:
            raise ValueError(
                f"The Distiller needs the teacher's pooled logits as targets, shaped "
                f"[batch, {expected[-1] if expected else 'classes'}]; received targets of shape "
                f"{shape if y is not None else None}. Batches must be "
                f"(student_input, teacher_logits)."
            )

    # --- Keras hooks --------------------------------------------------------------------------

    def call(self, inputs, training=None):
        self._check_student_input(inputs)
        return self.student(inputs, training=training)

    def _weight_decay_loss(self):
        kernels = [
            weight
            for layer in self.student._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)
            for weight in [layer.kernel]
            if weight.trainable
        ]
        if not kernels:
            return ops.convert_to_tensor(0.0, "float32")
        return 0.5 * self.weight_decay * sum(
            ops.sum(ops.square(ops.cast(k, "float32"))) for k in kernels
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        self._check_teacher_logits(y, y_pred)
        per_example = distillation_loss(
            teacher_logits=y,
            student_logits=y_pred,
            temperature=self.temperature,
            convention=self.convention,
        )
        if sample_weight is not None:
            weights = ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
            loss = ops.sum(per_example * weights) / ops.maximum(ops.sum(weights), 1e-12)
        else:
            loss = ops.mean(per_example)
        agreement = ops.cast(
            ops.equal(ops.argmax(y_pred, axis=-1), ops.argmax(y, axis=-1)), "float32"
        )
        batch = ops.shape(per_example)[0]
        self.distillation_tracker.update_state(loss, sample_weight=batch)
        self.agreement_tracker.update_state(agreement)
        if training and self.weight_decay > 0:
            loss = loss + self._weight_decay_loss()
        return _replica_share(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        results = super().compute_metrics(x, y, y_pred, sample_weight)
        results["distillation_loss"] = self.distillation_tracker.result()
        results["teacher_agreement"] = self.agreement_tracker.result()
        return results

    def get_config(self):
        return {
            "student": keras.saving.serialize_keras_object(self.student),
            "temperature": self.temperature,
            "convention": self.convention,
            "weight_decay": self.weight_decay,
            "name": self.name,
        }
