"""lstm-ae: Hydra-configured sweeps of LSTM autoencoders on sequences."""

import sys as _sys

__version__ = "0.1.0"
__all__ = ["fit", "load"]

if "torch" not in _sys.modules:  # OpenMP reads its wait policy once, when torch loads
    from lstm_ae.process import set_wait_policy as _set_wait_policy

    _set_wait_policy()


def __getattr__(name: str):
    """fit and load (lstm_ae.api), imported on first use so `import lstm_ae` stays light."""
    if name in __all__:
        from lstm_ae import api

        return getattr(api, name)
    raise AttributeError(f"module 'lstm_ae' has no attribute {name!r}")
