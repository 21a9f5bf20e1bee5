"""The autoencoder's shapes and heads, independent of any dataset."""

import torch

from lstm_ae.model.autoencoder import LSTMAutoencoder


def test_reconstruction_shapes_and_range():
    model = LSTMAutoencoder(input_size=3, hidden=16, layers=2, dropout=0.1)
    out = model(torch.rand(5, 11, 3))
    assert out.recon.shape == (5, 11, 3)
    assert out.z.shape == (5, 16)
    assert out.logits is None and out.pred is None
    assert 0.0 <= float(out.recon.min()) and float(out.recon.max()) <= 1.0


def test_context_is_last_hidden_state_of_top_encoder_layer():
    torch.manual_seed(0)
    model = LSTMAutoencoder(input_size=2, hidden=8, layers=2)
    x = torch.rand(4, 9, 2)
    seq, _ = model.encoder(x)
    assert torch.allclose(model(x).z, seq[:, -1])


def test_decoder_sees_only_z():
    """Two inputs with the same context give the same reconstruction."""
    model = LSTMAutoencoder(input_size=1, hidden=4)
    x = torch.rand(2, 7, 1)
    z = model.encode(x)
    dec, _ = model.decoder(z.unsqueeze(1).expand(-1, 7, -1))
    assert torch.allclose(model(x).recon, torch.sigmoid(model.output(dec)))


def test_classifier_and_predictor_heads():
    for source in ("z", "decoder"):
        model = LSTMAutoencoder(input_size=28, hidden=32, n_classes=10, class_from=source, predict=True)
        out = model(torch.rand(3, 28, 28))
        assert out.logits.shape == (3, 10)
        assert out.pred.shape == (3, 28, 28)


def test_chrono_init_sets_forget_bias_from_horizon():
    model = LSTMAutoencoder(input_size=1, hidden=64, chrono_init=784)
    bias = model.encoder.bias_ih_l0.detach()
    forget = bias[64:128]
    assert float(forget.min()) >= 0.0 and float(forget.max()) <= torch.log(torch.tensor(783.0))
    assert float(forget.mean()) > 3.0  # E[log U(1, 783)] ≈ 5.7
    assert torch.allclose(bias[:64], -forget)
