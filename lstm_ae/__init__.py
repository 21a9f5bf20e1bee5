"""lstm-ae: Hydra-configured sweeps of LSTM autoencoders on sequences."""

__version__ = "0.1.0"

import sys as _sys

if "torch" not in _sys.modules:  # OpenMP reads its wait policy once, when torch loads
    from lstm_ae.process import set_wait_policy as _set_wait_policy

    _set_wait_policy()
