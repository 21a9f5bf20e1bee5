"""lstm-ae: Hydra-configured sweeps of LSTM autoencoders on sequences."""

__version__ = "0.1.0"
