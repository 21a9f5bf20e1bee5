"""The reference side of the benchmark: the LSTM autoencoder trained the way
typical course code does it.

Same architecture as lstm_ae.model.autoencoder.LSTMAutoencoder (encoder nn.LSTM -> z = last hidden state,
decoder nn.LSTM fed z at each of the T steps, Linear + sigmoid reconstruction, optional Linear
classifier on z), but written independently so that later speed work on our model does not
speed up the yardstick too. The loop is deliberately plain: fp32, a DataLoader over a
TensorDataset (batch 64, shuffled, no workers), Adam, loss.item() every batch, evaluation
under torch.no_grad() with the same DataLoader batch size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BATCH_SIZE = 64
LR = 1e-3


class CourseLSTMAutoencoder(nn.Module):
    def __init__(self, input_size: int, hidden: int, n_classes: int = 0, layers: int = 1) -> None:
        super().__init__()
        self.encoder = nn.LSTM(input_size, hidden, layers, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, layers, batch_first=True)
        self.output = nn.Linear(hidden, input_size)
        self.classifier = nn.Linear(hidden, n_classes) if n_classes > 0 else None

    def forward(self, x):
        _, (h, _) = self.encoder(x)
        z = h[-1]
        dec_in = z.unsqueeze(1).repeat(1, x.shape[1], 1)
        dec_out, _ = self.decoder(dec_in)
        recon = torch.sigmoid(self.output(dec_out))
        logits = self.classifier(z) if self.classifier is not None else None
        return recon, logits


def make_loader(x: torch.Tensor, y: torch.Tensor | None, batch_size: int = BATCH_SIZE, shuffle: bool = True):
    dataset = TensorDataset(x, y) if y is not None else TensorDataset(x)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)


def _loss(model, batch, device):
    xb = batch[0].to(device)
    recon, logits = model(xb)
    loss = F.mse_loss(recon, xb)
    correct = 0
    if logits is not None:
        yb = batch[1].to(device)
        loss = loss + F.cross_entropy(logits, yb)
        correct = (logits.argmax(dim=1) == yb).sum().item()
    return loss, correct


def train_epoch(model, loader, optimizer, device, max_batches: int | None = None) -> float:
    """One pass over the loader (or its first max_batches batches); returns the mean batch loss."""
    model.train()
    running, batches = 0.0, 0
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        optimizer.zero_grad()
        loss, _ = _loss(model, batch, device)
        loss.backward()
        optimizer.step()
        running += loss.item()
        batches += 1
    return running / max(1, batches)


def evaluate(model, loader, device) -> dict[str, float]:
    """Mean loss and accuracy (when the model classifies) over a loader."""
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for batch in loader:
            loss, c = _loss(model, batch, device)
            total_loss += loss.item() * batch[0].shape[0]
            correct += c
            n += batch[0].shape[0]
    return {"loss": total_loss / max(1, n), "acc": correct / max(1, n)}


def make_optimizer(model) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=LR)
