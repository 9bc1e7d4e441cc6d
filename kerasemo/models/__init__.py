"""Models: the VGG-M speech student, the distiller and its losses (teacher and probes join as they land)."""

from kerasemo.models.distiller import Distiller
from kerasemo.models.flops import count_conv_flops
from kerasemo.models.losses import DistillationLoss, distillation_loss
from kerasemo.models.student import VGGMStudent

__all__ = ["Distiller", "DistillationLoss", "VGGMStudent", "count_conv_flops", "distillation_loss"]
