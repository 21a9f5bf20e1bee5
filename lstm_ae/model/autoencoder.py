"""The LSTM autoencoder of the study, with optional heads for later tasks.

Encoder LSTM over x_1..x_T; context z = last hidden state of the top layer; a decoder
LSTM receives z at every one of the T steps; x̃_t = σ(U h̃_t). The model knows nothing of
datasets: it takes an input size and returns tensors, and exposes z for heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lstm_ae.model import recurrence


@dataclass
class AEOutput:
    """Everything a task may score: reconstruction, context, optional head outputs."""

    recon: torch.Tensor  # (B, T, F) in [0, 1]
    z: torch.Tensor  # (B, H) context: last hidden state of the encoder's top layer
    logits: torch.Tensor | None = None  # (B, C) class logits, when n_classes > 0
    pred: torch.Tensor | None = None  # (B, T, F) next-step predictions, when predict (in [0, 1] unless residual)


@dataclass(frozen=True)
class Recipe:
    """Training-recipe options that keep the architecture (the context is z = h_T, the decoder is fed z
    at every step; conf/model/lstm_ae.yaml says what each does): what the encoder reads, the order the
    decoder emits (reconstructions are returned in x's order), where the decoder starts, initial weights."""

    center_input: bool = False
    reverse_output: bool = False
    decoder_h0: str = "zeros"  # or "z"
    orthogonal_init: bool = False
    forget_bias: float | None = None

    def __post_init__(self) -> None:
        if self.decoder_h0 not in ("zeros", "z"):
            raise ValueError(f"decoder_h0 must be 'zeros' or 'z', got {self.decoder_h0!r}")


class LSTMAutoencoder(nn.Module):
    """Encoder/decoder LSTM pair; heads for classification and next-step prediction."""

    def __init__(
        self,
        input_size: int,
        hidden: int,
        layers: int = 1,
        dropout: float = 0.0,
        n_classes: int = 0,
        class_from: str = "z",
        predict: bool = False,
        chrono_init: int = 0,
        hoist_decoder_input: bool = True,  # as conf/model/lstm_ae.yaml; falls back to nn.LSTM off the CPU
        residual_predict: bool = False,
        linear_skip: bool = False,
        recipe: Recipe | None = None,
    ) -> None:
        super().__init__()
        self.recipe = recipe = recipe or Recipe()
        self.center_input, self.reverse_output, self.decoder_h0 = (
            recipe.center_input,
            recipe.reverse_output,
            recipe.decoder_h0,
        )
        if class_from not in ("z", "decoder"):
            raise ValueError(f"class_from must be 'z' or 'decoder', got {class_from!r}")
        self.hoist_decoder_input = hoist_decoder_input
        inter_dropout = dropout if layers > 1 else 0.0
        self.encoder = nn.LSTM(input_size, hidden, layers, batch_first=True, dropout=inter_dropout)
        self.decoder = nn.LSTM(hidden, hidden, layers, batch_first=True, dropout=inter_dropout)
        self.output = nn.Linear(hidden, input_size)
        self.classifier = nn.Linear(hidden, n_classes) if n_classes > 0 else None
        self.predictor = nn.Linear(hidden, input_size) if predict else None
        # residual head: pred_t = x_t + U' h~_t (a change, unbounded), zero-initialised so that an
        # untrained model forecasts persistence (x_{t+1} = x_t)
        self.residual_predict = bool(predict and residual_predict)
        if self.residual_predict:
            nn.init.zeros_(self.predictor.weight)
            nn.init.zeros_(self.predictor.bias)
        # linear skip (with the residual head): + a (x_t - x_{t-1}), one learned coefficient per feature,
        # zero-initialised: the head then holds a linear AR(1) on differences plus what the LSTM adds
        self.skip = nn.Parameter(torch.zeros(input_size)) if self.residual_predict and linear_skip else None
        self.class_from = class_from
        if recipe.orthogonal_init or recipe.forget_bias is not None:
            self._init_recurrence(recipe.orthogonal_init, recipe.forget_bias)
        if chrono_init > 1:
            self._chrono_init(chrono_init)

    def _init_recurrence(self, orthogonal: bool, forget_bias: float | None) -> None:
        """Orthogonal recurrent weights (one orthogonal block per gate) and/or every bias zero but the
        forget gate's, set to forget_bias, in both LSTMs."""
        for lstm in (self.encoder, self.decoder):
            for name, param in lstm.named_parameters():
                h = param.shape[0] // 4
                with torch.no_grad():
                    if orthogonal and name.startswith("weight_hh"):
                        for gate in range(4):
                            nn.init.orthogonal_(param[gate * h : (gate + 1) * h])
                    if forget_bias is not None and name.startswith("bias"):
                        param.zero_()
                        if name.startswith("bias_ih"):
                            param[h : 2 * h] = forget_bias  # gate order: input, forget, cell, output

    def _chrono_init(self, t_max: int) -> None:
        """Chrono initialisation (Tallec & Ollivier 2018): forget-gate bias ~ log U(1, T-1),
        input-gate bias = -forget bias, so memory spans the sequence length from step one."""
        for lstm in (self.encoder, self.decoder):
            for name, param in lstm.named_parameters():
                if not name.startswith("bias_ih"):
                    continue
                h = param.shape[0] // 4
                with torch.no_grad():
                    param.zero_()
                    forget = torch.log(torch.empty(h).uniform_(1, t_max - 1))
                    param[h : 2 * h] = forget  # gate order: input, forget, cell, output
                    param[:h] = -forget
            for name, param in lstm.named_parameters():
                if name.startswith("bias_hh"):
                    with torch.no_grad():
                        param.zero_()

    def hoists_decoder_input(self, device: torch.device) -> bool:
        """Whether decode folds on this device: asked to, on CPU, and the kernel builds."""
        return self.hoist_decoder_input and recurrence.available(device)

    def decode(self, z: torch.Tensor, steps: int) -> torch.Tensor:
        """z: (B, H) fed at each of `steps` steps -> decoder outputs (B, T, H). Hoisted (hoists_decoder_input):
        W_ih z is computed once instead of at every step; same function, a third fewer FLOPs
        (lstm_ae.model.recurrence)."""
        h0 = z.unsqueeze(0).expand(self.decoder.num_layers, -1, -1) if self.decoder_h0 == "z" else None
        if self.hoists_decoder_input(z.device):
            return recurrence.lstm(self.decoder, z, steps=steps, h0=h0)[0]
        inputs = z.unsqueeze(1).expand(-1, steps, -1)
        if h0 is not None:
            h0 = h0.contiguous()
            return self.decoder(inputs, (h0, torch.zeros_like(h0)))[0]
        return self.decoder(inputs)[0]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, F) -> z: (B, H), the top layer's last hidden state."""
        _, (h_n, _) = self.encoder(x - 0.5 if self.center_input else x)
        return h_n[-1]

    def forward(self, x: torch.Tensor) -> AEOutput:
        z = self.encode(x)
        dec_h = self.decode(z, x.shape[1])
        recon = torch.sigmoid(self.output(dec_h))
        if self.reverse_output:  # the decoder emitted x_T first: back in x's order
            recon = recon.flip(1)
        logits = None
        if self.classifier is not None:
            source = z if self.class_from == "z" else dec_h[:, -1]
            logits = self.classifier(source)
        pred = None
        if self.predictor is not None:
            head = self.predictor(dec_h)
            if self.reverse_output:
                head = head.flip(1)
            pred = x + head if self.residual_predict else torch.sigmoid(head)
            if self.skip is not None:
                diff = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)
                pred = pred + self.skip * diff
        return AEOutput(recon=recon, z=z, logits=logits, pred=pred)
