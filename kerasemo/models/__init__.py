"""Models: the VGG-M speech student, the SE-ResNet face teacher, the distiller, its losses, the linear probe
and its saved head."""

from kerasemo.models.calls import predict_batch
from kerasemo.models.distiller import Distiller
from kerasemo.models.flops import count_conv_flops
from kerasemo.models.losses import distillation_loss
from kerasemo.models.masked import MaskedStudent
from kerasemo.models.probe import LinearProbe
from kerasemo.models.probe_head import load_probe_head, save_probe_head
from kerasemo.models.student import VGGMStudent, student_from_config
from kerasemo.models.teacher import SEResNetTeacher, load_teacher, teacher_from_config

__all__ = [
    "Distiller",
    "LinearProbe",
    "MaskedStudent",
    "SEResNetTeacher",
    "VGGMStudent",
    "student_from_config",
    "count_conv_flops",
    "distillation_loss",
    "load_probe_head",
    "load_teacher",
    "predict_batch",
    "save_probe_head",
    "teacher_from_config",
]
