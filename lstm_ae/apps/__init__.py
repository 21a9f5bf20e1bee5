"""The user's commands beyond run.py: the command-line checks before Hydra (preflight), evaluating a
trained run on other data (evaluate), the whole study's report (report) and the Python API (api)."""
