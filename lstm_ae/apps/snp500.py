"""The S&P 500 CSV on its own: load and clean it, print what was kept and dropped, draw whole stocks.

python -m lstm_ae.apps.snp500 <csv> [--out DIR] [--symbols AMZN,GOOGL]
"""

from __future__ import annotations

import logging
from pathlib import Path

from lstm_ae.data.snp500 import FIGURE, SHOWN, load
from lstm_ae.errors import ConfigError, DataError
from lstm_ae.figures.style import plot_series


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Load, clean and summarize the S&P 500 CSV; plot AMZN and GOOGL.")
    parser.add_argument("csv")
    parser.add_argument("--out", default=".", help=f"folder for {FIGURE} (default: .)")
    parser.add_argument("--symbols", default=",".join(SHOWN))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        data = load(path=args.csv)
    except (DataError, ConfigError) as exc:
        print(f"error: {exc}")
        return 2
    stats, series = data.stats, data.series
    wanted = [s for s in args.symbols.split(",") if s in series.names]
    out = Path(args.out) / FIGURE
    if wanted:
        values = dict(zip(wanted, series.values[series.rows(wanted)]))
        plot_series(series.dates, values, out, data.value_label, series.title)
    print(
        f"kept {stats['stocks_kept']} of {stats['stocks_in_file']} stocks "
        f"(dropped {stats['dropped_fewer_days']} with fewer days, {stats['dropped_missing_value']} with a missing value, "
        f"{stats['dropped_duplicate_dates']} with duplicate dates); {stats['trading_days']} trading days "
        f"{stats['first_date']}..{stats['last_date']}; read {stats['read_time_s']:.2f}s, "
        f"load+prepare {stats['load_time_s']:.2f}s" + (f"; figure {out}" if wanted else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
