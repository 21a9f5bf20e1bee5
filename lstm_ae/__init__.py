"""lstm-ae: Hydra-configured sweeps of LSTM autoencoders on sequences.

The public Python API is `fit` and `load` (lstm_ae.apps.api), imported on first use: importing the
package loads nothing heavy and changes no process setting."""

__version__ = "0.1.0"
__all__ = ["fit", "load"]


def __getattr__(name: str):
    if name in __all__:
        from lstm_ae.run.runtime import set_wait_policy

        set_wait_policy()  # before torch loads, as a run from run.py does; nothing once torch is loaded
        from lstm_ae.apps import api

        return getattr(api, name)
    raise AttributeError(f"module 'lstm_ae' has no attribute {name!r}")
