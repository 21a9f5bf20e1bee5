"""The autoencoder's shapes and heads, independent of any dataset."""

import pytest
import torch

from lstm_ae.model.autoencoder import LSTMAutoencoder, Recipe


def test_reconstruction_shapes_and_range():
    model = LSTMAutoencoder(input_size=3, hidden=16, layers=2, dropout=0.1)
    out = model(torch.rand(5, 11, 3))
    assert out.recon.shape == (5, 11, 3)
    assert out.z.shape == (5, 16)
    assert out.logits is None and out.pred is None
    recon = out.recon.detach()
    assert 0.0 <= float(recon.min()) and float(recon.max()) <= 1.0


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


def _twin(**options) -> tuple[LSTMAutoencoder, LSTMAutoencoder]:
    """The plain model and one with recipe options, sharing every weight."""
    torch.manual_seed(0)
    plain = LSTMAutoencoder(input_size=2, hidden=8, hoist_decoder_input=False)
    other = LSTMAutoencoder(input_size=2, hidden=8, hoist_decoder_input=False, recipe=Recipe(**options))
    other.load_state_dict(plain.state_dict())
    return plain.eval(), other.eval()


def test_the_recipe_options_keep_the_architecture():
    x = torch.rand(3, 9, 2)
    with torch.inference_mode():
        plain, reverse = _twin(reverse_output=True)
        # the decoder emits the same sequence; reversed, its first output is x_T's reconstruction
        torch.testing.assert_close(reverse(x).recon, plain(x).recon.flip(1))
        plain, centred = _twin(center_input=True)
        torch.testing.assert_close(centred(x).z, plain(x - 0.5).z)  # the encoder reads x - 0.5, z = h_T still
        plain, from_z = _twin(decoder_h0="z")
        z = plain.encode(x)
        expected = plain.decoder(z.unsqueeze(1).expand(-1, 9, -1), (z.unsqueeze(0), torch.zeros_like(z).unsqueeze(0)))
        torch.testing.assert_close(from_z(x).recon, torch.sigmoid(plain.output(expected[0])))


def test_a_decoder_started_from_z_is_the_same_with_the_hoisted_kernel():
    from lstm_ae.model import recurrence

    if not recurrence.available(torch.device("cpu")):
        pytest.skip("no C++ kernel on this machine")
    torch.manual_seed(0)
    from_z = Recipe(decoder_h0="z")
    plain = LSTMAutoencoder(input_size=2, hidden=8, layers=2, recipe=from_z, hoist_decoder_input=False)
    hoisted = LSTMAutoencoder(input_size=2, hidden=8, layers=2, recipe=from_z, hoist_decoder_input=True)
    hoisted.load_state_dict(plain.state_dict())
    x = torch.rand(3, 9, 2)
    torch.testing.assert_close(hoisted(x).recon, plain(x).recon, atol=1e-6, rtol=1e-5)
    for model in (plain, hoisted):
        model.zero_grad()
        model(x).recon.square().mean().backward()
    for (name, a), b in zip(plain.named_parameters(), hoisted.parameters()):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-6, rtol=1e-4, msg=name)


def test_orthogonal_init_and_forget_bias():
    model = LSTMAutoencoder(input_size=1, hidden=6, recipe=Recipe(orthogonal_init=True, forget_bias=1.0))
    for lstm in (model.encoder, model.decoder):
        w = lstm.weight_hh_l0.detach()
        for gate in range(4):
            block = w[gate * 6 : (gate + 1) * 6]
            torch.testing.assert_close(block @ block.T, torch.eye(6), atol=1e-5, rtol=0)
        bias = lstm.bias_ih_l0.detach()
        assert bias[6:12].eq(1.0).all() and bias[:6].eq(0).all() and bias[12:].eq(0).all()
        assert lstm.bias_hh_l0.detach().eq(0).all()
