"""Models: the VGG-M speech student (teacher, distiller, losses and probes join as they land)."""

from kerasemo.models.flops import count_conv_flops
from kerasemo.models.student import VGGMStudent

__all__ = ["VGGMStudent", "count_conv_flops"]
