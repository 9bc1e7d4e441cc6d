"""Analytic FLOP count of a Keras model's forward pass, from its layers' shapes."""

import math

import keras

# Layers with weights that `count_conv_flops` knows how to count.
_CONV_TYPES = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSE_TYPES = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)
_DEPTHWISE_TYPES = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_MAX_POOL_TYPES = (keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.MaxPooling3D)
_AVG_POOL_TYPES = (
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D,
)
_GLOBAL_POOL_TYPES = (
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
)
_ELEMENTWISE_TYPES = (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU)


def _num_elements(shape):
    return math.prod(int(d) for d in shape[1:])


def _weighted_flops(layer, input_shape, output_shape):
    """2 x multiply-accumulates of a conv/dense layer (biases not counted), or None."""
    if isinstance(layer, _DEPTHWISE_TYPES):
        # kernel: spatial + (C_in, multiplier); each output element costs prod(spatial) MACs.
        kernel_spatial = math.prod(layer.kernel.shape[:-2])
        return 2 * _num_elements(output_shape) * kernel_spatial
    if isinstance(layer, _CONV_TYPES):
        # kernel: spatial + (C_in / groups, C_out); each output element costs
        # prod(spatial) * C_in / groups MACs: 2 * H_out * W_out * C_out * kh * kw * C_in.
        return 2 * _num_elements(output_shape) * math.prod(layer.kernel.shape[:-1])
    if isinstance(layer, _TRANSPOSE_TYPES):
        # kernel: spatial + (C_out, C_in); each input element is scattered to
        # prod(spatial) * C_out outputs.
        return 2 * _num_elements(input_shape) * math.prod(layer.kernel.shape[:-1])
    if isinstance(layer, keras.layers.Dense):
        # Applied to the last axis: one (in_units x units) product per leading position.
        return 2 * _num_elements(output_shape) * int(layer.kernel.shape[0])
    return None


def _other_flops(layer, input_shape, output_shape):
    """Approximate FLOPs of normalisation, activation and pooling layers, or None."""
    if isinstance(layer, keras.layers.BatchNormalization):
        # At inference the normalisation folds into one scale and one shift per element.
        return 2 * _num_elements(output_shape)
    if isinstance(layer, _ELEMENTWISE_TYPES):
        return _num_elements(output_shape)
    if isinstance(layer, _MAX_POOL_TYPES):
        return _num_elements(output_shape) * (math.prod(layer.pool_size) - 1)
    if isinstance(layer, _AVG_POOL_TYPES):
        return _num_elements(output_shape) * math.prod(layer.pool_size)
    if isinstance(layer, _GLOBAL_POOL_TYPES):
        return _num_elements(input_shape)
    return None


def _normalize_input_shapes(model, input_shape):
    inputs = list(model.inputs)
    if len(inputs) == 1 and (
        not input_shape or not isinstance(input_shape[0], (list, tuple))
    ):
        input_shapes = [input_shape]
    else:
        input_shapes = list(input_shape)
    if len(input_shapes) != len(inputs):
        raise ValueError(
            f"`input_shape` must give one shape per model input ({len(inputs)}). "
            f"Received: input_shape={input_shape!r}."
        )
    shapes = []
    for tensor, shape in zip(inputs, input_shapes):
        shape = tuple(shape)
        if len(shape) != len(tensor.shape) - 1:
            raise ValueError(
                "`input_shape` excludes the batch axis: the model input "
                f"'{tensor.name}' has shape {tuple(tensor.shape)}, so `input_shape` needs "
                f"{len(tensor.shape) - 1} dimensions. Received: input_shape={shape!r}."
            )
        for given, declared in zip(shape, tensor.shape[1:]):
            if isinstance(given, bool) or not isinstance(given, int) or given < 1:
                raise ValueError(
                    "`input_shape` must hold positive integers (every axis fixed). "
                    f"Received: input_shape={shape!r}."
                )
            if declared is not None and declared != given:
                raise ValueError(
                    f"`input_shape` {shape!r} does not match the model input '{tensor.name}' "
                    f"of shape {tuple(tensor.shape)}."
                )
        shapes.append((1,) + shape)
    return shapes


def _trace(model, input_shapes, per_layer, other, uncounted, prefix):
    known = {id(t): s for t, s in zip(model.inputs, input_shapes)}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            layer_inputs = layer.input
            layer_outputs = layer.output
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"count_conv_flops cannot trace layer '{layer.name}': {error}. It supports "
                "functional and Sequential models whose layers are each called once."
            ) from error
        flat_inputs = keras.tree.flatten(layer_inputs)
        missing = [t for t in flat_inputs if id(t) not in known]
        if missing:
            raise ValueError(
                f"count_conv_flops cannot trace layer '{layer.name}': its input does not come "
                "from this model's graph. It supports functional and Sequential models whose "
                "layers are each called once."
            )
        concrete = keras.tree.map_structure(
            lambda t: keras.KerasTensor(known[id(t)], dtype=t.dtype), layer_inputs
        )
        name = prefix + layer.name
        if isinstance(layer, keras.Model):
            inner_shapes = [tuple(t.shape) for t in keras.tree.flatten(concrete)]
            _trace(layer, inner_shapes, per_layer, other, uncounted, name + "/")
        output_spec = layer.compute_output_spec(concrete)
        for tensor, spec in zip(
            keras.tree.flatten(layer_outputs), keras.tree.flatten(output_spec)
        ):
            known[id(tensor)] = tuple(int(d) for d in spec.shape)
        if isinstance(layer, keras.Model):
            continue
        in_shape = tuple(keras.tree.flatten(concrete)[0].shape)
        out_shape = tuple(keras.tree.flatten(output_spec)[0].shape)
        flops = _weighted_flops(layer, in_shape, out_shape)
        if flops is not None:
            per_layer[name] = int(flops)
            continue
        flops = _other_flops(layer, in_shape, out_shape)
        if flops is not None:
            other[name] = int(flops)
        elif layer.weights:
            uncounted.append(name)


def count_conv_flops(model, input_shape):
    """Analytic forward-pass FLOPs of one sample through a Keras model.

    The shapes are traced layer by layer from `input_shape` (so a model with a variable axis,
    such as `VGGMStudent`'s time axis, is counted at that length); nested models are entered.

    Convention:
    - FLOPs = 2 x multiply-accumulates (MACs). A convolution costs
      `2 * H_out * W_out * C_out * kh * kw * C_in / groups`; a depthwise convolution
      `2 * H_out * W_out * C_out * kh * kw`; a transposed convolution
      `2 * H_in * W_in * C_in * kh * kw * C_out`; a dense layer `2 * positions * in * units`.
      Biases are not counted.
    - `forward` is the sum over these conv/dense layers only. Batch normalisation, activations
      and pooling are reported separately under `other` (approximate: BN 2 per element once
      folded into scale and shift, ReLU 1 per element, max pooling `k - 1` comparisons and
      average pooling `k` additions per output, global pooling 1 per input element) and are not
      part of `forward`; padding, reshapes and casts cost 0.
    - `training_step` approximates forward + backward as 3 x `forward` (the backward pass needs
      the gradients with respect to both the activations and the weights, each about one
      forward pass).

    Args:
        model: a built functional or Sequential Keras model (each layer called once).
        input_shape: the shape of one sample, without the batch axis, every axis fixed (e.g.
            `(512, 400)`), or a list of such shapes for a multi-input model.

    Returns:
        A dict with `forward` (int, FLOPs of conv/dense layers for one sample), `macs`
        (`forward // 2`), `per_layer` (`{layer name: FLOPs}` for the conv/dense layers; nested
        models' layers as `"outer/inner"`), `other` (`{layer name: FLOPs}` for BN, activation
        and pooling layers), `other_total`, `training_step` (3 x `forward`), `uncounted` (names
        of layers with weights this function does not know, counted as 0) and `input_shape`.

    Example:

    ```python
    from kerasemo.models import VGGMStudent, count_conv_flops

    flops = count_conv_flops(VGGMStudent(), (512, 400))
    print(flops["forward"] / 1e9, "GFLOPs per 4 s sample")
    ```
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a keras.Model. Received: model of type {type(model).__name__}."
        )
    try:
        model_inputs = model.inputs
    except AttributeError:
        model_inputs = None
    if not model_inputs:
        raise ValueError(
            f"count_conv_flops needs a functional or Sequential model with known inputs; "
            f"model '{model.name}' has none (build a Sequential model with an `Input` first)."
        )
    if input_shape is None or isinstance(input_shape, (str, bytes, int)):
        raise ValueError(
            "`input_shape` must be a tuple of the per-sample input shape without the batch "
            f"axis, e.g. (512, 400). Received: input_shape={input_shape!r}."
        )
    input_shapes = _normalize_input_shapes(model, input_shape)
    per_layer, other, uncounted = {}, {}, []
    _trace(model, input_shapes, per_layer, other, uncounted, prefix="")
    forward = sum(per_layer.values())
    other_total = sum(other.values())
    return {
        "forward": forward,
        "macs": forward // 2,
        "per_layer": per_layer,
        "other": other,
        "other_total": other_total,
        "training_step": 3 * forward,
        "uncounted": uncounted,
        "input_shape": tuple(s[1:] for s in input_shapes)
        if len(input_shapes) > 1
        else input_shapes[0][1:],
    }
