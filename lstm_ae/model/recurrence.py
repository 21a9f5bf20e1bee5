"""LSTM layers whose input projection is done outside the time loop, with a C++ recurrence kernel.

The decoder of the study is fed the same z at every step, so its input projection W_ih z is
one (B, 4H) product instead of T of them; oneDNN's fused nn.LSTM cannot know that. This module
computes the projection with ordinary autograd ops (one large product for a sequence input, one
small one for a constant input) and runs the recurrence in a small C++ kernel
(`csrc/lstm_recurrence.cpp`, built once per machine by lstm_ae.model.kernel). The weights stay the
parameters of the `nn.LSTM` modules, so checkpoints are the same either way.
"""

from __future__ import annotations

import logging
import threading

import torch
from torch import nn

from lstm_ae.model import kernel

log = logging.getLogger(__name__)

_lock = threading.Lock()
_state: dict[str, str | None] = {}


def load_kernel() -> str | None:
    """Loads the kernel once per process, building it first when the machine has none (lstm_ae.model.kernel).
    Returns None when it is available, else one line saying why not."""
    with _lock:
        if "error" not in _state:
            _state["error"] = kernel.load()
        return _state["error"]


def available(device: torch.device) -> bool:
    """Whether the kernel can run on this device (CPU only), warning once when it cannot be built."""
    if device.type != "cpu":
        return False
    error = load_kernel()
    if error and not _state.get("warned"):
        _state["warned"] = "yes"
        log.warning("%s; the decoder runs as a plain nn.LSTM (LSTM_AE_VERBOSE_BUILD=1 shows the build)", error)
    return error is None


def _product_dtype(device: torch.device) -> torch.dtype:
    """The dtype the small products run in: bf16 under bf16 autocast, else fp32 (the kernel's two)."""
    if torch.is_autocast_enabled(device.type) and torch.get_autocast_dtype(device.type) == torch.bfloat16:
        return torch.bfloat16
    return torch.float32


class _Recurrence(torch.autograd.Function):
    """h_t, c_t from gx_t + W_hh h_{t-1}, zero initial state; gx (T, B, 4H) per step or (B, 4H) the
    same at every step. Returns hs (T + 1, B, H) in the product dtype (hs[0] = 0) and c_T."""

    @staticmethod
    def forward(ctx, gx, w_hh, steps: int, product_dtype: torch.dtype, save: bool):
        w = w_hh.detach().to(product_dtype)
        hs, c_last, acts, cs = torch.ops.lstm_ae.lstm_recurrence_forward(gx, w, steps, save)
        if save:
            ctx.save_for_backward(w, acts, cs, hs)
        ctx.constant = gx.dim() == 2
        ctx.w_dtype = w_hh.dtype
        return hs, c_last

    @staticmethod
    def backward(ctx, grad_hs, grad_c):
        w, acts, cs, hs = ctx.saved_tensors
        grad_steps = grad_hs[1:] if grad_hs is not None else None  # hs[0] is the constant initial state
        dgx, dw = torch.ops.lstm_ae.lstm_recurrence_backward(grad_steps, grad_c, w, acts, cs, hs, ctx.constant)
        return dgx, dw.to(ctx.w_dtype), None, None, None


def lstm_layer(
    x: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
    steps: int | None = None,
    h0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One LSTM layer, from h0 (B, H) or zeros, c0 = 0. x: (B, T, F) a sequence, or (B, F) fed at each of
    `steps` steps. Returns outputs (B, T, H) and the last (h, c), like nn.LSTM with batch_first=True;
    under autocast the outputs are in its dtype, as nn.LSTM's are."""
    if x.dim() == 3:
        steps = x.shape[1]
        gx = nn.functional.linear(x.transpose(0, 1), w_ih, b_ih + b_hh)  # (T, B, 4H): one large product
    else:
        gx = nn.functional.linear(x, w_ih, b_ih + b_hh)  # (B, 4H): once, not at every step
    if h0 is not None:  # the kernel starts from h = 0: the first step's W_hh h0 joins its input gates instead
        first = gx if gx.dim() == 2 else gx[0]
        first = (first + nn.functional.linear(h0, w_hh)).unsqueeze(0)
        rest = gx.unsqueeze(0).expand(steps - 1, -1, -1) if gx.dim() == 2 else gx[1:]
        gx = torch.cat([first, rest])
    product_dtype = _product_dtype(x.device)
    save = torch.is_grad_enabled() and (gx.requires_grad or w_hh.requires_grad)  # not when evaluating
    with torch.autocast(x.device.type, enabled=False):
        hs, c_last = _Recurrence.apply(gx.float().contiguous(), w_hh, steps, product_dtype, save)
    return hs[1:].transpose(0, 1), hs[-1], c_last


def lstm(module: nn.LSTM, x: torch.Tensor, steps: int | None = None, h0: torch.Tensor | None = None) -> tuple:
    """Runs an nn.LSTM (batch_first, unidirectional, no projections) through lstm_layer, layer by layer,
    with its own weights and its dropout between layers, from h0 (layers, B, H) or zeros and c0 = 0.
    Returns (out, (h_n, c_n)) like the module."""
    if module.bidirectional or module.proj_size or not module.batch_first or not module.bias:
        raise ValueError("recurrence.lstm supports batch_first, unidirectional nn.LSTM with biases and no projection")
    h_n, c_n = [], []
    out = x
    for layer in range(module.num_layers):
        if layer > 0 and module.dropout > 0 and module.training:
            out = nn.functional.dropout(out, module.dropout, training=True)
        weights = [getattr(module, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        out, h, c = lstm_layer(out, *weights, steps=steps if layer == 0 else None, h0=None if h0 is None else h0[layer])
        h_n.append(h)
        c_n.append(c)
    return out, (torch.stack(h_n), torch.stack(c_n))
