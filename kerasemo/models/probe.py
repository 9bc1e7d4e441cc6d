"""The linear probe: an affine map + softmax fitted on fixed embeddings (multinomial logistic regression).

The paper evaluates the student by learning "a single affine transformation (comprising a matrix
multiply and a bias) followed by a softmax" from the 8 student outputs to a labelled set's
classes (section 5.2); the authors fit it with MATLAB's `mnrfit`, i.e. unregularised
multinomial logistic regression by maximum likelihood.

`LinearProbe` is that classifier as a Keras model:

- ``Standardize`` (mean and standard deviation of each input feature, computed on the training
  data by `fit` and stored in the model as non-trainable weights) -> ``Dense(num_classes)`` ->
  softmax. Standardising changes nothing in what an unregularised affine classifier can
  express (the map absorbs it); it only conditions the optimisation, and it is saved with the
  model, so raw embeddings go in at prediction time.
- ``solver="newton-cholesky"`` (default) or ``"lbfgs"``: `fit` computes the maximum-likelihood
  weights with scikit-learn's ``LogisticRegression(C=np.inf)`` (no penalty: the same estimator
  as `mnrfit`) on the standardised inputs, then loads them into the Dense layer. Deterministic,
  no learning rate. Newton-Cholesky is the default because it reaches the same log-loss faster
  on probe-sized problems (hundreds of clips, 8 features, 6-8 classes). On separable data the
  likelihood has no maximum (the weights grow without bound): iterations stop at `max_iter`.
- ``solver="keras"``: the ordinary Keras loop (`compile` yourself, or Adam(1e-2) + sparse
  categorical cross-entropy are used) on the standardised inputs, for users who want callbacks,
  their own optimiser or regularisation.

Every solver accepts NumPy arrays or a `tf.data.Dataset` of ``(x, y)`` batches; labels are
integer class indices ``0..num_classes - 1``. Beside Keras's `predict`, the probe offers what
scikit-learn users expect of a classifier: `predict_proba`, `score` (accuracy) and `classes_`.

Example:

```python
import numpy as np
from kerasemo.models.probe import LinearProbe

x = np.random.randn(600, 8).astype("float32")
y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0).astype(int)  # 4 classes
probe = LinearProbe(num_classes=4)
probe.fit(x, y)
probabilities = probe.predict_proba(x)        # [600, 4], rows sum to 1
labels = probe.predict_labels(x)              # [600] int, indices into probe.classes_
probe.score(x, y)                             # accuracy
probe.save("probe.keras")                     # standardisation statistics included
```
"""

from __future__ import annotations

import logging
import warnings

import keras
import numpy as np
from keras import layers, ops

from kerasemo.checks import check_bool, check_choice, check_positive_int, check_positive_number

logger = logging.getLogger(__name__)

SKLEARN_SOLVERS: tuple[str, ...] = ("newton-cholesky", "lbfgs")
"""scikit-learn solvers of the exact (maximum-likelihood) fit."""
SOLVERS: tuple[str, ...] = SKLEARN_SOLVERS + ("keras",)

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
        self.epsilon = check_positive_number(epsilon, "epsilon")

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


def _fit_logistic_regression(z, y, num_classes, *, sample_weight, solver, max_iter, tol):
    """Unregularised multinomial logistic regression by scikit-learn, as `[d, K]` weights.

    Classes absent from `y` get zero weights and a bias of -1e4 (never predicted); a binary
    problem's single coefficient row becomes the second class's column (softmax of ``[0, w x +
    b]`` is the logistic model). Returns ``(kernel, bias, mean log-loss, iterations)``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    present = np.flatnonzero(np.bincount(y, minlength=num_classes) > 0)
    kernel = np.zeros((z.shape[1], num_classes))
    bias = np.full(num_classes, _ABSENT_CLASS_BIAS)
    bias[present] = 0.0
    if len(present) < 2:
        return kernel, bias, 0.0, 0
    # C=inf is scikit-learn's spelling of "no penalty" (the maximum-likelihood estimator).
    model = LogisticRegression(C=np.inf, solver=solver, max_iter=max_iter, tol=tol)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(z, y, sample_weight=sample_weight)
    for warning in caught:  # separable data: the likelihood has no maximum, weights grow
        logger.debug("LinearProbe: %s", warning.message)
    coefficients = model.coef_.T  # [d, K'] (K' = 1 for two classes)
    if len(present) == 2:
        kernel[:, present[1]] = coefficients[:, 0]
        bias[present] = [0.0, model.intercept_[0]]
    else:
        kernel[:, present] = coefficients
        bias[present] = model.intercept_
    loss = log_loss(y, model.predict_proba(z), sample_weight=sample_weight, labels=model.classes_)
    return kernel, bias, float(loss), int(np.max(model.n_iter_))


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
        solver: ``"newton-cholesky"`` (exact maximum likelihood by scikit-learn, default),
            ``"lbfgs"`` (the same estimator, scikit-learn's other solver) or ``"keras"`` (the
            standard Keras training loop; see `fit`).
        max_iter: int. Solver iterations (scikit-learn) or epochs (``"keras"``, full batch) at
            most.
        tol: float > 0. scikit-learn's stopping tolerance.
        class_names: optional sequence of `num_classes` names (stored in the config); name
            ``i`` is that of output column ``i``.
        name: str. Model name.
        **kwargs: passed to `keras.Model` (e.g. ``dtype``, ``trainable``).

    Input shape:
        `[batch, features]` float embeddings.

    Output shape:
        `[batch, num_classes]` float32 probabilities.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(200, 8)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int64")
    >>> probe = LinearProbe(num_classes=2, class_names=["calm", "angry"])
    >>> _ = probe.fit(x, y)
    >>> probe.score(x, y) > 0.95, probe.classes_.tolist(), probe.predict_proba(x[:3]).shape
    (True, [0, 1], (3, 2))
    """

    def __init__(
        self,
        num_classes,
        standardize=True,
        solver="newton-cholesky",
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
        self.num_classes = num_classes
        self.standardize = check_bool(standardize, "standardize")
        self.solver = check_choice(solver, "solver", SOLVERS)
        self.max_iter = check_positive_int(max_iter, "max_iter")
        self.tol = check_positive_number(tol, "tol")
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if len(class_names) != num_classes:
                raise ValueError(
                    f"`class_names` has {len(class_names)} names for num_classes={num_classes}; "
                    "give one name per class, in output order."
                )
        self.class_names = class_names
        self.n_iter_ = 0
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

    @property
    def classes_(self) -> np.ndarray:
        """The class labels `predict_labels` returns, ``0..num_classes - 1`` (scikit-learn's name).

        ``class_names[i]`` (when given) names class ``classes_[i]``.
        """
        return np.arange(self.num_classes)

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
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float64).reshape(-1)
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
            A `keras.callbacks.History`; for the scikit-learn solvers its ``history["loss"]``
            holds the final mean (weighted) log-loss on the training data, and `n_iter_` the
            solver's iterations.

        Raises:
            ValueError: for mismatched shapes, labels out of range, non-finite inputs, or
                Keras keywords given to a scikit-learn solver.
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
        if self.solver in SKLEARN_SOLVERS:
            if kwargs:
                raise ValueError(
                    f"Keyword arguments {sorted(kwargs)} apply to solver='keras' only; "
                    f"received them with solver={self.solver!r}."
                )
            kernel, bias, loss, self.n_iter_ = _fit_logistic_regression(
                z, y, self.num_classes, sample_weight=sample_weight, solver=self.solver,
                max_iter=self.max_iter, tol=self.tol,
            )
            self.affine.kernel.assign(kernel.astype("float32"))
            self.affine.bias.assign(bias.astype("float32"))
            history = keras.callbacks.History()
            history.set_model(self)
            history.epoch = [0]
            history.history = {"loss": [loss]}
            logger.debug("LinearProbe: %d %s iterations, log-loss %.5f", self.n_iter_, self.solver, loss)
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

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities of each row of `x` (`[N, num_classes]` float32), without a Keras loop.

        Columns follow `classes_` (named by `class_names`).
        """
        return ops.convert_to_numpy(self(np.asarray(x, np.float32), training=False))

    def predict_labels(self, x) -> np.ndarray:
        """Most probable class index of each row of `x` (`[N]` int64), without a Keras loop."""
        return self.predict_proba(x).argmax(axis=1).astype(np.int64)

    def score(self, x, y, sample_weight=None) -> float:
        """Mean accuracy on `x` and integer labels `y`, as a scikit-learn classifier's `score`.

        Args:
            x: `[N, features]` embeddings.
            y: `[N]` integer labels.
            sample_weight: optional `[N]` weights.
        """
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(np.asarray(y).reshape(-1), self.predict_labels(x), sample_weight=sample_weight))

    def get_config(self):
        return {
            **super().get_config(),
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
        config = dict(config)
        if config.get("solver") == "newton":  # probes saved before the scikit-learn fit
            config["solver"] = "newton-cholesky"
        return cls(**config)
