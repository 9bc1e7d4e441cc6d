"""The training stages and what they share: the authors' SGD settings, precision, callbacks.

Stages (library calls taking the resolved `kerasemo.config.ExperimentConfig`):

- `train_teacher` (`kerasemo.training.teacher`): the face teacher on FERPlus, tested on
  PrivateTest beside a pixel baseline;
- `distill` (`kerasemo.training.distillation`): the speech student on EmoVoxCeleb-style shards,
  scored against the teacher.

Shared pieces: `kerasemo.training.schedules` (the authors' learning rates and weight decay for a
batch-mean loss), `kerasemo.training.runtime` (determinism, accelerator, dtype policy),
`kerasemo.training.callbacks` (`SaveBestStudent`) and `kerasemo.training.run_record` (a
finished run's ``complete.json``).

Example:

>>> from kerasemo.training import authors_learning_rate
>>> authors_learning_rate(1e-4, batch_size=64)
0.0064
"""

from kerasemo.training.callbacks import SaveBestStudent
from kerasemo.training.distillation import (
    DistillResult,
    RunConfigMismatchError,
    build_distiller,
    collect_logits,
    distill,
)
from kerasemo.training.runtime import PRECISIONS, accelerator_available, enable_determinism, resolve_precision
from kerasemo.training.schedules import (
    attach_weight_decay,
    authors_learning_rate,
    authors_weight_decay,
    learning_rate_schedule,
    log_spaced_schedule,
)
from kerasemo.training.teacher import TeacherResult, default_data, train_teacher
from kerasemo.training.teacher_evaluation import logistic_regression_baseline

__all__ = [
    "PRECISIONS",
    "DistillResult",
    "RunConfigMismatchError",
    "SaveBestStudent",
    "TeacherResult",
    "accelerator_available",
    "attach_weight_decay",
    "authors_learning_rate",
    "authors_weight_decay",
    "build_distiller",
    "collect_logits",
    "default_data",
    "distill",
    "enable_determinism",
    "learning_rate_schedule",
    "log_spaced_schedule",
    "logistic_regression_baseline",
    "resolve_precision",
    "train_teacher",
]
