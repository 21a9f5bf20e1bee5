"""hydra.sweeper.callbacks for the sphere app: each finished trial as one JSON line, and one that fails."""

import json
from pathlib import Path


class TrialLog:
    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def __call__(self, study, trial) -> None:
        line = {"study": study.study_name, "number": trial.number, "state": trial.state.name, "value": trial.value}
        with self.path.open("a") as fh:
            fh.write(json.dumps(line) + "\n")


def broken(study, trial) -> None:
    raise ValueError(f"broken callback on trial {trial.number}")
