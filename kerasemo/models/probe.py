"""The linear probe: an affine map + softmax fitted on fixed embeddings (multinomial logistic regression).

The paper evaluates the student by learning "a single affine transformation (comprising a matrix
multiply and a bias) followed by a softmax" from the 8 student outputs to a labelled set's
classes (section 5.2); the authors fit it with MATLAB's `mnrfit`, i.e. unregularised
multinomial logistic regression by Newton's method (iteratively reweighted least squares).

`LinearProbe` is that classifier as a Keras model:

- ``Standardize`` (mean and standard deviation of each input feature, computed on the training
  data by `fit` and stored in the model as non-trainable weights) -> ``Dense(num_classes)`` ->
  softmax. Standardising changes nothing in what an unregularised affine classifier can
  express (the map absorbs it); it only conditions the optimisation, and it is saved with the
  model, so raw embeddings go in at prediction time.
- ``solver="newton"`` (default): `fit` computes the maximum-likelihood weights with a damped
  Newton method in float64 NumPy (the same estimator as `mnrfit` and scikit-learn's
  ``LogisticRegression(C=np.inf)``, i.e. ``penalty=None``), then loads them into the Dense layer.
  Deterministic, no learning rate, converges in a few dozen iterations. On separable data the
  likelihood has no maximum (the weights grow without bound): iterations stop at `max_iter` or
  when the loss stops falling, as `mnrfit` and scikit-learn do.
- ``solver="keras"``: the ordinary Keras loop (`compile` yourself, or Adam(1e-2) + sparse
  categorical cross-entropy are used) on the standardised inputs, for users who want callbacks,
  their own optimiser or regularisation.

Both solvers accept NumPy arrays or a `tf.data.Dataset` of ``(x, y)`` batches; labels are
integer class indices ``0..num_classes - 1``.

Example:

```python
import numpy as np
from kerasemo.models.probe import LinearProbe

x = np.random.randn(600, 8).astype("float32")
y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0).astype(int)  # 4 classes
probe = LinearProbe(num_classes=4)
probe.fit(x, y)
probabilities = probe.predict(x)              # [600, 4], rows sum to 1
labels = probe.predict_labels(x)              # [600] int
probe.save("probe.keras")                     # standardisation statistics included
```
"""

from __future__ import annotations

import logging

import keras
import numpy as np
from keras import layers, ops

logger = logging.getLogger(__name__)

SOLVERS: tuple[str, ...] = ("newton", "keras")

# Logit bias given to a class absent from the training data (it is never predicted).
_ABSENT_CLASS_BIAS = -1e4


@keras.saving.register_keras_serializable(package="kerasemo")
class Standardize(layers.Layer):
    """Subtracts a per-feature mean and divides by a per-feature standard deviation.

    The statistics are non-trainable weights (saved with the model), set with
    `set_statistics` or `adapt`; until then they are 0 and 1 (identity).

    Args:
        epsilon: float > 0. Standard deviations below it are replaced by 1 (constant
            features pass through centred).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    >>> layer = Standardize()
    >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
    >>> np.round(ops.convert_to_numpy(layer(np.array([[1.0, 20.0]]))), 6).tolist()
    [[0.0, 0.0]]
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ValueError(f"Standardize: `epsilon` must be a float > 0; received {epsilon!r}.")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                f"Standardize needs a known number of features (last axis); received input "
                f"shape {tuple(input_shape)}."
            )
        self.mean = self.add_weight(
            name="mean", shape=(features,), initializer="zeros", trainable=False
        )
        self.std = self.add_weight(
            name="std", shape=(features,), initializer="ones", trainable=False
        )

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        return (inputs - self.mean) / self.std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def set_statistics(self, mean, std) -> None:
        """Sets the mean and standard deviation (stds below `epsilon` become 1)."""
        mean = np.asarray(mean, np.float64).reshape(-1)
        std = np.asarray(std, np.float64).reshape(-1)
        if not self.built:
            self.build((None, mean.shape[0]))
        if mean.shape != tuple(self.mean.shape) or std.shape != tuple(self.std.shape):
            raise ValueError(
                f"Standardize: statistics of shape {mean.shape}/{std.shape} do not match the "
                f"layer's {tuple(self.mean.shape)} features."
            )
        std = np.where(std < self.epsilon, 1.0, std)
        self.mean.assign(mean.astype(self.mean.dtype))
        self.std.assign(std.astype(self.std.dtype))

    def adapt(self, data) -> None:
        """Sets the statistics from `[N, features]` data (population std, ddof 0)."""
        data = np.asarray(data, np.float64)
        if data.ndim != 2 or len(data) == 0:
            raise ValueError(
                f"Standardize.adapt expects a non-empty [N, features] array; received shape "
                f"{data.shape}."
            )
        self.set_statistics(data.mean(axis=0), data.std(axis=0))

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def _nll(logits: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    return float(np.sum(weights * (log_norm - shifted[np.arange(len(y)), y])) / np.sum(weights))


def fit_multinomial_logistic(
    x,
    y,
    num_classes: int,
    *,
    sample_weight=None,
    max_iter: int = 100,
    tol: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Unregularised multinomial logistic regression by damped Newton steps (IRLS).

    The model is ``softmax(x W + b)``. The last class present is the reference (its weights are
    0), which removes the softmax's redundant direction, so the Hessian is the
    ``(d + 1)(K - 1)``-square matrix of the reduced problem. Each step solves
    ``(H + lambda I) delta = -g`` (lambda = 1e-10 x trace scale, for singular Hessians on
    separable data) and halves the step until the loss decreases.

    Args:
        x: `[N, d]` features (float).
        y: `[N]` integer labels in ``0..num_classes - 1``.
        num_classes: K. Classes absent from `y` get zero weights and a bias of -1e4.
        sample_weight: optional `[N]` non-negative weights.
        max_iter: maximum Newton steps.
        tol: stop when the loss falls by less than ``tol * max(1, loss)``.

    Returns:
        ``(kernel [d, K], bias [K], losses)``: float64 weights and the mean negative
        log-likelihood after each step.

    Raises:
        ValueError: for mismatched shapes or labels outside ``0..num_classes - 1``.

    Example:

    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> kernel, bias, _ = fit_multinomial_logistic(x, y, 2, max_iter=5)
    >>> kernel.shape, bias.shape
    ((1, 2), (2,))
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y).astype(np.int64).reshape(-1)
    if x.ndim != 2 or len(x) != len(y) or len(y) == 0:
        raise ValueError(
            f"Expected x [N, d] and y [N] with N > 0; received shapes {x.shape} and {y.shape}."
        )
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"Labels must be integers in 0..{num_classes - 1}; received values from {y.min()} "
            f"to {y.max()}."
        )
    weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    n, d = x.shape
    present = np.flatnonzero(np.bincount(y, minlength=num_classes) > 0)
    kernel = np.zeros((d, num_classes))
    bias = np.full(num_classes, _ABSENT_CLASS_BIAS)
    bias[present] = 0.0
    if len(present) < 2:
        return kernel, bias, [0.0]

    # Reduced problem over the present classes, last present class as the reference.
    local = np.searchsorted(present, y)
    k = len(present)
    free = k - 1
    design = np.concatenate([x, np.ones((n, 1))], axis=1)  # [N, d + 1]
    p_dim = d + 1
    onehot = np.zeros((n, k))
    onehot[np.arange(n), local] = 1.0
    total_weight = weights.sum()
    theta = np.zeros((p_dim, free))

    def loss_of(theta_):
        logits = np.concatenate([design @ theta_, np.zeros((n, 1))], axis=1)
        return _nll(logits, local, weights), logits

    loss, logits = loss_of(theta)
    losses = []
    for _ in range(max_iter):
        probs = _softmax(logits)[:, :free]
        residual = (probs - onehot[:, :free]) * weights[:, None]
        gradient = design.T @ residual / total_weight  # [p, free]
        # Hessian blocks: sum_n w_n x_n x_n^T (diag(p_n) - p_n p_n^T), over the free classes.
        curvature = -probs[:, :, None] * probs[:, None, :]
        curvature[:, np.arange(free), np.arange(free)] += probs
        curvature *= weights[:, None, None]
        hessian = np.einsum("ni,nab,nj->iajb", design, curvature, design)
        hessian = hessian.reshape(p_dim * free, p_dim * free) / total_weight
        damping = 1e-10 * max(float(np.trace(hessian)) / hessian.shape[0], 1e-12)
        hessian[np.diag_indices_from(hessian)] += damping
        try:
            step = np.linalg.solve(hessian, -gradient.reshape(-1))
        except np.linalg.LinAlgError:
            step = -np.linalg.lstsq(hessian, gradient.reshape(-1), rcond=None)[0]
        step = step.reshape(p_dim, free)
        scale, improved = 1.0, False
        for _ in range(30):
            candidate = theta + scale * step
            new_loss, new_logits = loss_of(candidate)
            if np.isfinite(new_loss) and new_loss <= loss:
                improved = True
                break
            scale *= 0.5
        if not improved:
            break
        decrease = loss - new_loss
        theta, loss, logits = candidate, new_loss, new_logits
        losses.append(loss)
        if decrease < tol * max(1.0, loss):
            break
    kernel[:, present[:free]] = theta[:d]
    bias[present[:free]] = theta[d]
    bias[present[free]] = 0.0
    return kernel, bias, losses or [loss]


def _dataset_to_numpy(dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Concatenates the `(x, y)` or `(x, y, sample_weight)` batches of a tf.data.Dataset."""
    xs, ys, ws = [], [], []
    for element in dataset:
        if not isinstance(element, (tuple, list)) or len(element) not in (2, 3):
            raise ValueError(
                "A dataset passed to LinearProbe.fit must yield (x, y) or (x, y, sample_weight) "
                f"batches; received an element of type {type(element).__name__}."
            )
        xs.append(np.asarray(element[0]))
        ys.append(np.asarray(element[1]))
        if len(element) == 3:
            ws.append(np.asarray(element[2]))
    if not xs:
        raise ValueError("The dataset passed to LinearProbe.fit is empty.")
    x = np.concatenate([a.reshape(-1, a.shape[-1]) for a in xs])
    y = np.concatenate([a.reshape(-1) for a in ys])
    w = np.concatenate([a.reshape(-1) for a in ws]) if ws else None
    return x, y, w


def _is_dataset(value) -> bool:
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, tf.data.Dataset)


@keras.saving.register_keras_serializable(package="kerasemo")
class LinearProbe(keras.Model):
    """Affine map + softmax on fixed embeddings: unregularised multinomial logistic regression.

    The paper's probe (section 5.2): a matrix multiply and a bias followed by a softmax, fitted
    on the 8 student outputs (or the teacher's pooled logits) of a labelled set's training fold.
    Inputs are standardised by statistics stored in the model (computed by `fit` on the training
    data); see the module docstring for the solvers.

    Args:
        num_classes: int >= 2. Number of target classes.
        standardize: bool. Standardise the inputs with training-set statistics (default True).
        solver: ``"newton"`` (exact maximum likelihood, default) or ``"keras"`` (the standard
            Keras training loop; see `fit`).
        max_iter: int. Newton steps (``"newton"``) or epochs (``"keras"``, full batch) at most.
        tol: float. Newton stopping tolerance on the relative loss decrease.
        class_names: optional sequence of `num_classes` names (stored in the config).
        name: str. Model name.
        **kwargs: passed to `keras.Model`.

    Input shape:
        `[batch, features]` float embeddings.

    Output shape:
        `[batch, num_classes]` float32 probabilities.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(200, 8)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int64")
    >>> probe = LinearProbe(num_classes=2)
    >>> _ = probe.fit(x, y)
    >>> float((probe.predict_labels(x) == y).mean()) > 0.95
    True
    """

    def __init__(
        self,
        num_classes,
        standardize=True,
        solver="newton",
        max_iter=100,
        tol=1e-8,
        class_names=None,
        name="linear_probe",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"`num_classes` must be an integer >= 2; received num_classes={num_classes!r}."
            )
        if not isinstance(standardize, bool):
            raise ValueError(f"`standardize` must be True or False; received {standardize!r}.")
        if solver not in SOLVERS:
            raise ValueError(f"`solver` must be one of {SOLVERS}; received solver={solver!r}.")
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"`max_iter` must be a positive integer; received {max_iter!r}.")
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if len(class_names) != num_classes:
                raise ValueError(
                    f"`class_names` has {len(class_names)} names for num_classes={num_classes}."
                )
        self.num_classes = num_classes
        self.standardize = standardize
        self.solver = solver
        self.max_iter = max_iter
        self.tol = float(tol)
        self.class_names = class_names
        self.standardizer = Standardize(name="standardize") if standardize else None
        self.affine = layers.Dense(num_classes, name="affine")
        self.softmax = layers.Softmax(dtype="float32", name="softmax")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if self.standardizer is not None:
            self.standardizer.build(input_shape)
        self.affine.build(input_shape)
        self.built = True

    def call(self, inputs):
        x = inputs
        if self.standardizer is not None:
            x = self.standardizer(x)
        return self.softmax(self.affine(x))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_classes,)

    # ----------------------------------------------------------------------------------------

    def _prepare(self, x, y, sample_weight):
        if _is_dataset(x):
            if y is not None:
                raise ValueError("Pass either a dataset of (x, y) batches or arrays x and y, not both.")
            x, y, dataset_weight = _dataset_to_numpy(x)
            sample_weight = dataset_weight if sample_weight is None else sample_weight
        if y is None:
            raise ValueError("LinearProbe.fit needs labels: fit(x, y) or fit(dataset of (x, y)).")
        x = np.asarray(x, np.float64)
        y = np.asarray(y).reshape(-1)
        if x.ndim != 2:
            raise ValueError(f"x must be [N, features]; received shape {x.shape}.")
        if len(x) != len(y):
            raise ValueError(f"x and y have different lengths: {len(x)} and {len(y)}.")
        if y.size and not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.mod(y, 1) == 0):
                raise ValueError("y must hold integer class indices (not one-hot rows).")
            y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(
                f"y must hold class indices in 0..{self.num_classes - 1}; received values from "
                f"{y.min()} to {y.max()}."
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("x holds NaN or infinite values.")
        return x, y.astype(np.int64), sample_weight

    def fit(self, x=None, y=None, *, sample_weight=None, epochs=None, verbose="auto", **kwargs):
        """Fits the probe on `[N, features]` embeddings and integer labels.

        Args:
            x: NumPy array `[N, features]`, or a `tf.data.Dataset` of ``(x, y)`` (or
                ``(x, y, sample_weight)``) batches (then `y` must be None).
            y: `[N]` integer labels in ``0..num_classes - 1``.
            sample_weight: optional `[N]` weights.
            epochs: ``"keras"`` solver only: full-batch epochs (default `max_iter`).
            verbose: ``"keras"`` solver only: Keras progress setting.
            **kwargs: ``"keras"`` solver only: passed to `keras.Model.fit` (callbacks, ...).

        Returns:
            A `keras.callbacks.History`; for ``"newton"`` its ``history["loss"]`` holds the
            mean negative log-likelihood after each Newton step.

        Raises:
            ValueError: for mismatched shapes, labels out of range, or non-finite inputs.
        """
        x, y, sample_weight = self._prepare(x, y, sample_weight)
        if not self.built:
            self.build((None, x.shape[1]))
        if self.standardizer is not None:
            self.standardizer.adapt(x)
            mean = ops.convert_to_numpy(self.standardizer.mean).astype(np.float64)
            std = ops.convert_to_numpy(self.standardizer.std).astype(np.float64)
            z = (x - mean) / std
        else:
            z = x
        if self.solver == "newton":
            if kwargs:
                raise ValueError(
                    f"Keyword arguments {sorted(kwargs)} apply to solver='keras' only."
                )
            kernel, bias, losses = fit_multinomial_logistic(
                z, y, self.num_classes, sample_weight=sample_weight,
                max_iter=self.max_iter, tol=self.tol,
            )
            self.affine.kernel.assign(kernel.astype("float32"))
            self.affine.bias.assign(bias.astype("float32"))
            history = keras.callbacks.History()
            history.set_model(self)
            history.epoch = list(range(len(losses)))
            history.history = {"loss": [float(v) for v in losses]}
            logger.debug("LinearProbe: %d Newton steps, final loss %.5f", len(losses), losses[-1])
            return history
        if not self.compiled:
            self.compile(
                optimizer=keras.optimizers.Adam(1e-2),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        kwargs.setdefault("batch_size", len(x))
        kwargs.setdefault("shuffle", False)
        return super().fit(
            x.astype("float32"),
            y,
            sample_weight=sample_weight,
            epochs=epochs or self.max_iter,
            verbose=verbose,
            **kwargs,
        )

    def predict_labels(self, x) -> np.ndarray:
        """Most probable class index of each row of `x` (`[N]` int64), without a Keras loop."""
        probabilities = ops.convert_to_numpy(self(np.asarray(x, np.float32), training=False))
        return probabilities.argmax(axis=1).astype(np.int64)

    def get_config(self):
        return {
            "num_classes": self.num_classes,
            "standardize": self.standardize,
            "solver": self.solver,
            "max_iter": self.max_iter,
            "tol": self.tol,
            "class_names": self.class_names,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
