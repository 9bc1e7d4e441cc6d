"""Vision: face-crop preprocessing (grey -> RGB, resize, mean) and the authors' augmentation."""

from kerasemo.vision.augment import (
    NUM_UNIFORMS,
    FaceAugmentation,
    affine_matrices,
    affine_parameters,
    augment_faces,
    grey_to_rgb,
    preprocess_faces,
    resize_faces,
    subtract_channel_mean,
)

__all__ = [
    "NUM_UNIFORMS",
    "FaceAugmentation",
    "affine_matrices",
    "affine_parameters",
    "augment_faces",
    "grey_to_rgb",
    "preprocess_faces",
    "resize_faces",
    "subtract_channel_mean",
]
