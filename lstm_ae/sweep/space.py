"""The search space: Hydra sweep overrides (and hydra.sweeper.params / search_space) turned into
Optuna distributions, the grid of a discrete space, and a trial's values turned back into overrides.

The grammar is Hydra's override grammar, as hydra-optuna-sweeper reads it:

    x=1,2,3 | x=choice(a,b)        categorical
    x=range(1,10,2)                the values Hydra lists for it (stop excluded, as in Python), drawn
                                   by the sampler (a grid only with hydra/sweeper/sampler=grid)
    x=interval(0.1,1)              float; int(interval(1,8)) or integer ends give an integer
    x=tag(log,interval(1e-4,1e-1)) log scale
    x=5                            fixed: passed to every trial
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


class SearchSpaceError(ValueError):
    """A search space the sweeper cannot run; the message is one line naming the parameter."""


def distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override."""
    name, value = override.get_key_element(), override.value()
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if isinstance(value, RangeSweep):
        values = list(override.sweep_iterator())
        if not values:
            raise SearchSpaceError(f"{name}: {override.input_line} lists no value")
        if values[0] > values[-1]:  # a descending range: its values as listed
            return CategoricalDistribution(values)
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=int(value.step))
        # a float range: the values Hydra lists, as a stepped float the sampler draws from (not a grid)
        return FloatDistribution(float(values[0]), float(values[-1]), step=float(value.step))
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        if value.start >= value.end:
            raise SearchSpaceError(
                f"{name}: interval({value.start}, {value.end}) is empty; the start must be below the end"
            )
        if log and value.start <= 0:
            raise SearchSpaceError(f"{name}: a log interval needs a positive start; got {value.start}")
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(float(value.start), float(value.end), log=log)
    raise SearchSpaceError(f"{name}: {override.input_line} is not a search space the Optuna sweeper understands")


def parse(arguments: Iterable[str]) -> tuple[dict[str, BaseDistribution], dict[str, str]]:
    """Split overrides into swept parameters (name -> distribution) and fixed ones (name -> value)."""
    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(list(arguments)):
        name = override.get_key_element()
        if override.is_sweep_override():
            space[name] = distribution(override)
            fixed.pop(name, None)
        else:
            fixed[name] = override.get_value_element_as_str()
            space.pop(name, None)
    return space, fixed


def params_as_overrides(params: dict[str, Any] | None) -> list[str]:
    """hydra.sweeper.params ({name: "interval(0,1)"}) as override strings."""
    return [f"{name}={value}" for name, value in (params or {}).items()]


def from_search_space(search_space: dict[str, Any] | None) -> dict[str, BaseDistribution]:
    """The deprecated hydra.sweeper.search_space form ({name: {type: float, low:, high:, log:, step:}})."""
    if not search_space:
        return {}
    warnings.warn(  # a UserWarning, as upstream: shown by default, unlike a DeprecationWarning
        "hydra.sweeper.search_space is deprecated (as in hydra-optuna-sweeper); use hydra.sweeper.params, "
        "e.g. x: interval(-5, 5)",
        UserWarning,
        stacklevel=2,
    )
    space: dict[str, BaseDistribution] = {}
    for name, spec in search_space.items():
        spec = dict(spec)
        kind = spec.pop("type", None)
        if kind == "categorical":
            space[name] = CategoricalDistribution(list(spec["choices"]))
        elif kind == "int":
            space[name] = IntDistribution(
                int(spec["low"]), int(spec["high"]), log=bool(spec.get("log", False)), step=int(spec.get("step") or 1)
            )
        elif kind == "float":
            space[name] = FloatDistribution(
                float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False)), step=spec.get("step")
            )
        else:
            raise SearchSpaceError(f"hydra.sweeper.search_space.{name}.type={kind!r}; allowed: categorical, int, float")
    return space


def grid(space: dict[str, BaseDistribution]) -> list[dict[str, Any]]:
    """Every combination of a discrete space, in the order the overrides list them."""
    import itertools

    names = list(space)
    axes = [grid_values(name, space[name]) for name in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*axes)]


def grid_values(name: str, dist: BaseDistribution) -> list[Any]:
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution) and not dist.log:
        return list(range(dist.low, dist.high + 1, dist.step))
    if isinstance(dist, FloatDistribution) and dist.step is not None and not dist.log:
        n = int(round((dist.high - dist.low) / dist.step))
        return [dist.low + i * dist.step for i in range(n + 1)]
    raise SearchSpaceError(
        f"{name} is continuous ({type(dist).__name__}); a grid needs discrete values: a comma list, choice(...) or range(...)"
    )


def is_discrete(space: dict[str, BaseDistribution]) -> bool:
    return all(isinstance(d, CategoricalDistribution) for d in space.values())


def growable(space: dict[str, BaseDistribution]) -> dict[str, BaseDistribution]:
    """The space a grid's trials record: a categorical of numbers becomes an int or float range over
    them. Optuna refuses another choice list for a parameter a study already holds, but takes other
    bounds, so a grid of numbers (model.hidden=8,16 then 8,16,32) can grow in the same study."""
    out = {}
    for name, dist in space.items():
        choices = dist.choices if isinstance(dist, CategoricalDistribution) else ()
        numbers = choices and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices)
        if not numbers:
            out[name] = dist
        elif all(isinstance(c, int) for c in choices):
            out[name] = IntDistribution(min(choices), max(choices))
        else:
            out[name] = FloatDistribution(float(min(choices)), float(max(choices)))
    return out


def incompatible(name: str, held: BaseDistribution, new: BaseDistribution) -> str:
    """'' when a study holding `held` for a parameter takes trials with `new`, else why not (one line)."""
    from optuna.distributions import check_distribution_compatibility

    try:
        check_distribution_compatibility(held, new)
    except ValueError:
        held_text = list(held.choices) if isinstance(held, CategoricalDistribution) else type(held).__name__
        return (
            f"{name}: the study holds it as {held_text}; Optuna cannot take other values for it in the same "
            "study: use a new hydra.sweep.dir (or hydra.sweeper.study_name)"
        )
    return ""


def suggest(trial, space: dict[str, BaseDistribution]) -> dict[str, Any]:
    """Ask the trial for a value of each parameter through Optuna's public suggest API."""
    values = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            values[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        else:
            values[name] = trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return values
