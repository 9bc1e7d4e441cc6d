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

The names below are loaded on first use: importing the package (or one of its light modules,
such as `kerasemo.training.teacher` for its file names) does not load Keras, so an entry point's
``--help`` stays instant.

Example:

>>> from kerasemo.training import authors_learning_rate
>>> authors_learning_rate(1e-4, batch_size=64)
0.0064
"""

from kerasemo.lazy import lazy_exports

_HOMES = {
    "SaveBestStudent": ".callbacks",
    "DistillResult": ".distillation",
    "RunConfigMismatchError": ".distillation",
    "build_distiller": ".distillation",
    "collect_logits": ".distillation",
    "distill": ".distillation",
    "PRECISIONS": ".runtime",
    "accelerator_available": ".runtime",
    "enable_determinism": ".runtime",
    "resolve_precision": ".runtime",
    "attach_weight_decay": ".schedules",
    "authors_learning_rate": ".schedules",
    "authors_weight_decay": ".schedules",
    "learning_rate_schedule": ".schedules",
    "log_spaced_schedule": ".schedules",
    "TeacherResult": ".teacher",
    "default_data": ".teacher",
    "train_teacher": ".teacher",
    "logistic_regression_baseline": ".teacher_evaluation",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
