"""S&P 500 daily highs (Kaggle "S&P 500 stock prices 2014-2017").

Reading: a CSV (plain or gzip) with columns symbol,date,open,high,low,close,volume ("Name"
is accepted for "symbol", as in the Kaggle 5-year file). Dates and numbers must parse; an
empty cell is a missing value, any other unparsable cell is an error naming it.

Cleaning rule: the series is the daily ``high``. The trading calendar is every date on which
more than half of the symbols have a row. A stock is kept only when it has a finite high on
every calendar date and no duplicated date; stocks with fewer trading days (listed late,
delisted) or a missing high are dropped (what this keeps of the Kaggle file: docs/snp500.md).

Sequences: each kept stock's series is cut into windows of ``seq_len`` days, one every
``stride`` days (non-overlapping by default); the model's T is ``seq_len``. More than
``max_gap_days`` (10) calendar days between consecutive trading days (a file holding two periods
years apart) split the calendar there (Series.breaks): windows start anew after the gap and never
span it. Stocks (not
windows) are split train/val/test with a seeded permutation, so test stocks are never seen in
training. Windows are ordered window-major (all stocks' first window, then the second ...), so
the first test items are different stocks.

Normalization: per-window min-max, fitted only on the values the model sees. For
reconstruction it sees the whole window; for prediction (inputs x_1..x_{T-1}, target x_T) it
sees the first T-1 values, so the target never shapes its own scale (no look-ahead). The range
is widened by ``margin`` x (max - min) on both sides: inputs land in [m/(1+2m), (1+m)/(1+2m)]
and a next value up to ``margin`` ranges above the window's max (or below its min) is still
reachable by the sigmoid output. A target beyond that stays outside [0, 1] (kept exact, not
clipped) and cannot be predicted exactly. Each window's ``lo`` and ``span`` are kept, so
``value = x * span + lo`` inverts the scaling exactly (figures and errors in dollars).

What the data declare (lstm_ae.data.base): units "$" (metric names end in ``_dollars``) with the
window scaler and each window's lo/span; the series of the kept stocks (dates, symbols), each
window naming its stock and its first day; AMZN and GOOGL drawn whole in snp500_stocks.png;
the cleaning counts and load times in ``stats``.

    python -m lstm_ae.apps.snp500 <csv> [--out DIR]   # cleaning summary, load time, AMZN/GOOGL figure
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstm_ae.config import check_data_file
from lstm_ae.data.base import Scaler, SequenceData, Series, Split, Units, check_fractions, split_counts
from lstm_ae.errors import ConfigError, DataError, first_line

log = logging.getLogger(__name__)

COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume")
NUMERIC = ("open", "high", "low", "close", "volume")
ALIASES = {"name": "symbol"}
SCALE_SCOPES = ("all", "inputs")
SHOWN = ("AMZN", "GOOGL")  # drawn whole in FIGURE
FIGURE = "snp500_stocks.png"


# -- normalization ----------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowScaler(Scaler):
    """Per-window min-max scaling with a margin, fitted on the values the model sees."""

    margin: float = 0.1

    def fit(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """values (..., L) in dollars -> lo, span (...): x = (v - lo) / span."""
        values = np.asarray(values, dtype=np.float64)
        vmin, vmax = values.min(axis=-1), values.max(axis=-1)
        rng = vmax - vmin
        # a flat window has no range: use a tiny one so the scaling stays invertible
        rng = np.maximum(rng, 1e-6 * np.maximum(np.abs(vmax), 1.0))
        return vmin - self.margin * rng, rng * (1.0 + 2.0 * self.margin)


# -- reading and cleaning ---------------------------------------------------------------------
def read_csv(path: str | Path) -> pd.DataFrame:
    """Read and check the CSV; every problem is a one-line DataError naming the file."""
    p = check_data_file(path)
    try:
        df = pd.read_csv(p, compression="infer", low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{p}: empty file; expected a CSV with columns {','.join(COLUMNS)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{p}: not a readable CSV ({first_line(exc)})") from None
    df.columns = [ALIASES.get(str(c).strip().lower(), str(c).strip().lower()) for c in df.columns]
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{p}: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)} "
            f"(found {','.join(map(str, df.columns))})"
        )
    df = df[list(COLUMNS)]
    if df.empty:
        raise DataError(f"{p}: no data rows; expected a CSV with columns {','.join(COLUMNS)}")
    if df["symbol"].isna().any():
        line = int(np.flatnonzero(df["symbol"].isna().to_numpy())[0]) + 2
        raise DataError(f"{p}: line {line} has no symbol")
    df["symbol"] = df["symbol"].astype(str).str.strip()
    df["date"] = _parse_dates(p, df["date"])
    for col in NUMERIC:
        df[col] = _parse_numbers(p, col, df[col])
    return df


def _parse_dates(p: Path, raw: pd.Series) -> pd.Series:
    dates = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():  # not ISO: let pandas infer one format for the column
        try:
            dates = pd.to_datetime(raw, errors="coerce")
        except (ValueError, TypeError):
            pass
    bad = dates.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{p}: unparsable date {raw.iloc[i]!r} on line {i + 2} ({int(bad.sum())} bad date(s); expected YYYY-MM-DD)"
        )
    return dates


def _parse_numbers(p: Path, col: str, raw: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype(np.float64)
    values = pd.to_numeric(raw, errors="coerce")
    text = raw.astype("string").str.strip()
    bad = (values.isna() & text.notna() & (text != "")).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{p}: column {col} has a non-numeric value {raw.iloc[i]!r} on line {i + 2} ({int(bad.sum())} bad value(s))"
        )
    return values.astype(np.float64)


@dataclass
class Cleaned:
    """Kept stocks as a dates x symbols table of one column, plus what was dropped and why."""

    dates: pd.DatetimeIndex
    symbols: list[str]
    values: np.ndarray  # (S, D) float64, dollars
    n_in_file: int
    dropped_short: list[str]
    dropped_missing: list[str]
    dropped_duplicate: list[str]

    @property
    def dropped(self) -> int:
        return len(self.dropped_short) + len(self.dropped_missing) + len(self.dropped_duplicate)

    def summary(self) -> dict:
        return {
            "stocks_in_file": self.n_in_file,
            "stocks_kept": len(self.symbols),
            "stocks_dropped": self.dropped,
            "dropped_fewer_days": len(self.dropped_short),
            "dropped_missing_value": len(self.dropped_missing),
            "dropped_duplicate_dates": len(self.dropped_duplicate),
            "trading_days": len(self.dates),
            "first_date": str(self.dates[0].date()),
            "last_date": str(self.dates[-1].date()),
        }


def clean(df: pd.DataFrame, column: str = "high", source: str = "CSV") -> Cleaned:
    """Keep the stocks with a finite `column` value on every calendar date (vectorised)."""
    if column not in NUMERIC:
        raise ConfigError(f"dataset.column must be one of {', '.join(NUMERIC)}; got {column!r}")
    symbols_all = df["symbol"].unique()
    n_sym = len(symbols_all)
    per_date = df.groupby("date", sort=True)["symbol"].nunique()
    calendar = per_date.index[per_date.to_numpy() > n_sym / 2]
    dup = df.duplicated(["symbol", "date"], keep=False)
    dup_symbols = set(df.loc[dup, "symbol"].unique())
    if dup_symbols:  # which row would win is unknowable: the rule is to drop the stock (docs/snp500.md)
        first = df.loc[dup].iloc[0]
        log.warning(
            "%s: %d stock(s) have duplicated (date, symbol) rows, the first %s on %s; they are dropped",
            source,
            len(dup_symbols),
            first["symbol"],
            pd.Timestamp(first["date"]).date(),
        )
    on_cal = df[df["date"].isin(calendar) & ~df["symbol"].isin(dup_symbols)]
    finite = np.isfinite(on_cal[column].to_numpy())
    rows = on_cal.groupby("symbol").size()
    good = on_cal[finite].groupby("symbol").size()
    good = good.reindex(rows.index, fill_value=0)
    n_days = len(calendar)
    keep = sorted(good.index[good.to_numpy() == n_days])
    short = sorted(set(symbols_all) - dup_symbols - set(rows.index[rows.to_numpy() == n_days]))
    missing = sorted(set(rows.index[rows.to_numpy() == n_days]) - set(keep))
    if len(keep) == 0 and dup_symbols and not rows.size:
        raise DataError(
            f"{source}: no usable stock: every one of the {n_sym} symbols has duplicated (date, symbol) rows"
        )
    if len(keep) == 0:
        raise DataError(
            f"{source}: no usable stock: none of {n_sym} symbols has a finite {column} on all {n_days} trading days"
        )
    table = on_cal[on_cal["symbol"].isin(keep)].pivot(index="date", columns="symbol", values=column)
    table = table.reindex(index=calendar, columns=keep)
    return Cleaned(
        dates=pd.DatetimeIndex(calendar),
        symbols=list(keep),
        values=table.to_numpy(dtype=np.float64).T.copy(),
        n_in_file=n_sym,
        dropped_short=short,
        dropped_missing=missing,
        dropped_duplicate=sorted(dup_symbols),
    )


# -- windows and splits -----------------------------------------------------------------------
def gap_breaks(dates: pd.DatetimeIndex, max_gap_days: int) -> tuple[int, ...]:
    """Positions p where more than max_gap_days calendar days pass between dates p-1 and p (far more
    than a weekend or a holiday: two periods of one file), i.e. where a new stretch of days starts."""
    days = np.diff(np.asarray(dates, dtype="datetime64[D]").astype(np.int64))
    return tuple(int(p) + 1 for p in np.flatnonzero(days > max_gap_days))


def window_starts(n_days: int, seq_len: int, stride: int, breaks: tuple[int, ...] = ()) -> np.ndarray:
    """Window starts every `stride` days within each gap-free stretch (no window spans a break)."""
    edges = [0, *breaks, n_days]
    parts = [np.arange(a, b - seq_len + 1, stride) for a, b in zip(edges[:-1], edges[1:])]
    return np.concatenate(parts).astype(np.int64)


def _make_split(cleaned: Cleaned, rows: np.ndarray, starts: np.ndarray, seq_len: int, fit_len: int, scaler) -> Split:
    """Windows of the stocks `rows`, window-major, scaled on their first `fit_len` values."""
    idx = starts[:, None] + np.arange(seq_len)[None, :]  # (W, L)
    win = cleaned.values[rows][:, idx]  # (S', W, L)
    win = win.transpose(1, 0, 2).reshape(-1, seq_len)  # window-major: (W*S', L)
    lo, span = scaler.fit(win[:, :fit_len])
    x = torch.from_numpy(scaler.apply(win, lo, span).astype(np.float32)).unsqueeze(-1)
    names = np.tile(np.asarray(cleaned.symbols, dtype=object)[rows], len(starts))
    return Split(x, names=names, start=np.repeat(starts, len(rows)), lo=lo, span=span)


@dataclass(frozen=True)
class Settings:
    """The dataset=snp500 keys (conf/dataset/snp500.yaml), checked when built."""

    name: str = "snp500"
    path: str = "data/sp500/all_stocks.csv"
    column: str = "high"
    seq_len: int = 50
    stride: int | None = None  # null: seq_len (non-overlapping windows)
    splits: tuple[float, float, float] = (0.6, 0.2, 0.2)
    seed: int = 0
    margin: float = 0.1
    task: str = "reconstruct"
    scale_on: str | None = None  # null: inputs for prediction, else all
    cv_folds: int = 1  # read by the run (lstm_ae.run.crossval), checked in lstm_ae.config
    max_gap_days: int = 10

    def __post_init__(self) -> None:
        check_fractions("dataset.splits", self.splits)
        if not isinstance(self.seq_len, int) or self.seq_len < 2:
            raise ConfigError(f"dataset.seq_len must be an integer >= 2, got {self.seq_len}")
        if not isinstance(self.window_stride, int) or self.window_stride < 1:
            raise ConfigError(f"dataset.stride must be a positive integer or null (= seq_len), got {self.stride}")
        if not 0.0 <= self.margin <= 1.0:
            raise ConfigError(f"dataset.margin must be in [0, 1], got {self.margin}")
        if not isinstance(self.max_gap_days, int) or self.max_gap_days < 1:
            raise ConfigError(f"dataset.max_gap_days must be an integer >= 1, got {self.max_gap_days}")
        if self.scope not in SCALE_SCOPES:
            raise ConfigError(
                f"dataset.scale_on must be one of {', '.join(SCALE_SCOPES)} or null; got {self.scale_on!r}"
            )

    @property
    def window_stride(self) -> int:
        return self.seq_len if self.stride is None else self.stride

    @property
    def scope(self) -> str:
        return self.scale_on or ("inputs" if self.task == "predict" else "all")

    @property
    def fit_len(self) -> int:
        """How many values of a window its scaling is fitted on (no look-ahead for prediction)."""
        return self.seq_len - 1 if self.scope == "inputs" else self.seq_len


def load(**settings) -> SequenceData:
    """Read, clean, window, split by stock and normalize the S&P 500 CSV (keys: Settings)."""
    t0 = time.perf_counter()
    cfg = Settings(**settings)
    df = read_csv(cfg.path)
    t_read = time.perf_counter() - t0
    cleaned = clean(df, cfg.column, source=str(cfg.path))
    if cfg.seq_len > len(cleaned.dates):
        raise ConfigError(
            f"dataset.seq_len={cfg.seq_len} is longer than the {len(cleaned.dates)} trading days in {cfg.path}"
        )
    parts = split_stocks(len(cleaned.symbols), cfg)
    breaks, gaps, starts = windows_of(cleaned, cfg)
    scaler = WindowScaler(cfg.margin)
    built = {
        k: _make_split(cleaned, np.sort(rows), starts, cfg.seq_len, cfg.fit_len, scaler) for k, rows in parts.items()
    }
    stats = {**cleaned.summary(), "path": str(cfg.path), "column": cfg.column, "scale_on": cfg.scope,
             "fit_len": cfg.fit_len, "windows_per_stock": len(starts), "gaps": "; ".join(gaps) or "none",
             "unscored": "; ".join(unscored_parts(cleaned.dates, breaks, cfg.seq_len)) or "none",
             "read_time_s": t_read}  # fmt: skip
    series = Series(cleaned.values, cleaned.symbols, cleaned.dates, shown=SHOWN, figure=FIGURE,
                    title=f"S&P 500: daily {cfg.column}", breaks=breaks)  # fmt: skip
    data = SequenceData(name=cfg.name, train=built["train"], val=built["val"], test=built["test"], kind="signal",
                        value_label=f"daily {cfg.column} ($)", units=Units(symbol="$", suffix="dollars", scaler=scaler),
                        series=series, stats=stats)  # fmt: skip
    # with scale_on=inputs the last value of a window may fall outside [0, 1] (beyond the margin)
    last = torch.cat([s.x[:, -1, 0] for s in built.values()])
    stats["targets_outside_unit"] = float(((last < 0) | (last > 1)).float().mean())
    stats["load_time_s"] = time.perf_counter() - t0
    _log_loaded(cfg, cleaned, {k: len(v) for k, v in parts.items()}, len(starts), stats)
    return data


def split_stocks(n_stocks: int, cfg: Settings) -> dict[str, np.ndarray]:
    """Stock indices of the train, val and test splits: a seeded permutation, test stocks never trained on."""
    n_train, n_val, n_test = split_counts(n_stocks, cfg.splits)
    if min(n_train, n_val, n_test) < 1:
        raise DataError(
            f"{cfg.path}: only {n_stocks} usable stock(s); the split {list(cfg.splits)} by stock needs at least "
            "one per split"
        )
    perm = np.random.default_rng(cfg.seed).permutation(n_stocks)
    return {"train": perm[:n_train], "val": perm[n_train : n_train + n_val], "test": perm[n_train + n_val :]}


def unscored_parts(dates: pd.DatetimeIndex, breaks: tuple[int, ...], seq_len: int) -> list[str]:
    """The gap-free stretches shorter than one window, which yield no window and no forecast, as text."""
    edges = [0, *breaks, len(dates)]
    return [
        f"{dates[a].date()}..{dates[b - 1].date()}: {b - a} days, shorter than one window ({seq_len}); not scored"
        for a, b in zip(edges[:-1], edges[1:])
        if b - a < seq_len
    ]


def windows_of(cleaned: Cleaned, cfg: Settings) -> tuple[list[int], list[str], np.ndarray]:
    """The calendar's breaks (gaps > max_gap_days), the gaps as text, and the windows' first days."""
    n_days = len(cleaned.dates)
    breaks = gap_breaks(cleaned.dates, cfg.max_gap_days)
    gaps = [f"{cleaned.dates[p - 1].date()} -> {cleaned.dates[p].date()}" for p in breaks]
    if gaps:
        log.warning(
            "%s: split at %d calendar gap(s) > %d days: %s", cfg.path, len(gaps), cfg.max_gap_days, ", ".join(gaps)
        )
    starts = window_starts(n_days, cfg.seq_len, cfg.window_stride, breaks)
    for part in unscored_parts(cleaned.dates, breaks, cfg.seq_len) if len(starts) else ():
        log.warning("%s: %s", cfg.path, part)
    if len(starts) == 0:
        longest = max(b - a for a, b in zip([0, *breaks], [*breaks, n_days]))
        raise DataError(
            f"{cfg.path}: no gap-free stretch of {cfg.seq_len} trading days (dataset.seq_len); the longest has "
            f"{longest} (gaps: {', '.join(gaps)})"
        )
    return breaks, gaps, starts


def _log_loaded(cfg: Settings, cleaned: Cleaned, split_sizes: dict[str, int], n_windows: int, stats: dict) -> None:
    beyond = (
        f"; {100 * stats['targets_outside_unit']:.2f}% of targets beyond the margin" if cfg.scope == "inputs" else ""
    )
    log.info(
        "S&P 500 %s: %d stocks in file, kept %d, dropped %d (%d fewer days, %d missing %s, %d duplicate dates); "
        "%d trading days %s..%s; %d windows/stock of T=%d (stride %d); stocks train/val/test %d/%d/%d; "
        "scaled on %s values, margin %.2f%s; loaded in %.1fs",
        cfg.path,
        cleaned.n_in_file,
        len(cleaned.symbols),
        cleaned.dropped,
        len(cleaned.dropped_short),
        len(cleaned.dropped_missing),
        cfg.column,
        len(cleaned.dropped_duplicate),
        len(cleaned.dates),
        stats["first_date"],
        stats["last_date"],
        n_windows,
        cfg.seq_len,
        cfg.window_stride,
        split_sizes["train"],
        split_sizes["val"],
        split_sizes["test"],
        "all T" if cfg.scope == "all" else "the first T-1 (inputs)",
        cfg.margin,
        beyond,
        stats["load_time_s"],
    )
