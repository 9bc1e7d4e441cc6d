"""Vision: face-crop preprocessing (grey -> RGB, resize, mean) and the authors' augmentation."""

from kerasemo.vision.augment import (
    AUGMENTATION_SETTINGS,
    NUM_UNIFORMS,
    FaceAugmentation,
    affine_matrices,
    affine_parameters,
    augment_faces,
    augmentation_settings,
    grey_to_rgb,
    preprocess_faces,
    resize_faces,
    subtract_channel_mean,
)

__all__ = [
    "AUGMENTATION_SETTINGS",
    "NUM_UNIFORMS",
    "FaceAugmentation",
    "affine_matrices",
    "affine_parameters",
    "augment_faces",
    "augmentation_settings",
    "grey_to_rgb",
    "preprocess_faces",
    "resize_faces",
    "subtract_channel_mean",
]
