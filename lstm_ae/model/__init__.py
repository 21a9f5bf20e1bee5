"""The model layer: the LSTM autoencoder (autoencoder), its decoder recurrence with the constant input
hoisted (recurrence) and the C++ kernel that computes it on CPU (kernel). Tensors in, tensors out."""

from lstm_ae.model.autoencoder import AEOutput, LSTMAutoencoder, Recipe

__all__ = ["AEOutput", "LSTMAutoencoder", "Recipe"]
