"""Small FERPlus-format face sets and a teacher configuration that trains in seconds."""

import numpy as np

# A teacher that builds and trains in seconds (train_teacher command-line overrides).
TINY_TEACHER = [
    "--set", "teacher.blocks_per_stage=[1, 1, 1, 1]",
    "--set", "teacher.base_width=8",
    "--set", "teacher.input_size=32",
    "--set", "teacher.batch_size=32",
]


def pattern_faces(n, seed=0):
    """Faces whose class shows as a bright bar at a class-dependent height, plus noise.

    Returns:
        (images [n, 48, 48] 0-255, votes [n, 10], usage [n]): 70 % Training, 15 % PublicTest,
        15 % PrivateTest.
    """
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 8, n)
    images = 100 + 20 * rng.standard_normal((n, 48, 48))
    for i, c in enumerate(classes):
        images[i, 5 + 5 * c : 9 + 5 * c, 8:40] += 100
    votes = np.zeros((n, 10), int)
    votes[np.arange(n), classes] = 7
    votes[np.arange(n), (classes + 1) % 8] = 3
    usage = np.array(["Training"] * n, dtype=object)
    usage[int(0.7 * n) : int(0.85 * n)] = "PublicTest"
    usage[int(0.85 * n) :] = "PrivateTest"
    return np.clip(images, 0, 255), votes, usage
