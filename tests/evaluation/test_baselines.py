"""Reference forecasts (lstm_ae.evaluation.baselines): known answers on synthetic series, and the real S&P 500."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_ae.evaluation import baselines as B


def ar1_differences(n_series: int, n_days: int, phi: float, c: float, seed: int = 0) -> np.ndarray:
    """Series whose daily changes follow Δ_t = c + φ Δ_{t-1} + ε_t, ε ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    d = np.zeros((n_series, n_days))
    eps = rng.standard_normal((n_series, n_days))
    for t in range(1, n_days):
        d[:, t] = c + phi * d[:, t - 1] + eps[:, t]
    return 100.0 + np.cumsum(d, axis=1)


def test_ar1_on_differences_recovers_its_coefficients_and_the_known_error_ratio():
    series = ar1_differences(40, 600, phi=0.3, c=0.05)
    wins, y, _ = B.next_value_windows(series[:, 100:], 10)  # drop the burn-in
    train, test = slice(0, 20), slice(20, 40)
    ar = B.LinearAR(1, "differences").fit(wins[train].reshape(-1, 10), y[train].reshape(-1))
    assert ar.coef[1] == pytest.approx(0.3, abs=0.02)
    # stationary mean of the changes c / (1 - φ) enters through the intercept c
    assert ar.coef[0] == pytest.approx(0.05, abs=0.02)
    w, t = wins[test].reshape(-1, 10), y[test]
    e_ar = (ar.predict(w).reshape(t.shape) - t) ** 2
    e_p = (B.persistence(w).reshape(t.shape) - t) ** 2
    score = B.bootstrap_ratio(e_ar, e_p, n_resamples=500)
    # persistence errs by the whole change (variance 1/(1-φ²) around its mean), AR(1) by ε (variance 1)
    expected = 1.0 / (1.0 / (1 - 0.3**2) + (0.05 / 0.7) ** 2)
    assert score.ratio == pytest.approx(expected, abs=0.02)
    assert score.ci_low <= score.ratio <= score.ci_high < 1.0
    assert score.n_resamples == 500 and score.n_groups == 20


def test_ar2_on_levels_recovers_a_stationary_process():
    rng = np.random.default_rng(1)
    x = np.zeros((30, 800))
    for t in range(2, 800):
        x[:, t] = 1.0 + 0.6 * x[:, t - 1] - 0.2 * x[:, t - 2] + 0.1 * rng.standard_normal(30)
    wins, y, _ = B.next_value_windows(x[:, 50:], 5)
    ar = B.LinearAR(2, "levels").fit(wins.reshape(-1, 5), y.reshape(-1))
    np.testing.assert_allclose(ar.coef, [1.0, 0.6, -0.2], atol=0.02)
    assert ar.name == "AR(2) on levels" and ar.key == "ar2_level"


def test_drift_and_persistence_on_a_straight_line():
    line = 3.0 + 0.5 * np.arange(30.0)
    wins, y, days = B.next_value_windows(line[None], 8, every=3)
    w = wins[0]
    np.testing.assert_allclose(B.drift(w, 7), y[0])  # a straight line is forecast exactly
    np.testing.assert_allclose(B.drift(w, 1), y[0])
    np.testing.assert_allclose(y[0] - B.persistence(w), 0.5)  # persistence lags one step
    assert days.tolist() == list(range(8, 30, 3))
    with pytest.raises(ValueError, match="k=8"):
        B.drift(w, 8)


def test_iterated_forecasts_follow_the_closed_form():
    rng = np.random.default_rng(4)
    known = rng.normal(size=(6, 5))
    ar = B.LinearAR(1, "levels")
    ar.coef = np.array([0.3, 0.8])  # x̂ = 0.3 + 0.8 x
    h = np.arange(1, 8)
    expected = 0.8**h * known[:, -1:] + 0.3 * (1 - 0.8**h) / 0.2
    np.testing.assert_allclose(B.iterate(ar.predict, known, 7), expected)
    line = 2.0 * np.arange(12.0)[None]
    np.testing.assert_allclose(B.iterate(B.Drift(3).predict, line[:, :6], 6), line[:, 6:])
    np.testing.assert_allclose(B.iterate(B.Persistence().predict, line[:, :6], 3), 10.0)


def test_bootstrap_is_seeded_and_resamples_whole_groups():
    rng = np.random.default_rng(2)
    base = rng.exponential(size=(50, 40))
    same = B.bootstrap_ratio(base, base)
    assert same.ratio == same.ci_low == same.ci_high == 1.0
    half = B.bootstrap_ratio(base / 2, base)
    assert half.ratio == pytest.approx(0.5) and half.ci_high == pytest.approx(0.5)
    noisy = base * rng.uniform(0.5, 1.3, size=(50, 1))  # a factor per group: groups differ
    a, b = B.bootstrap_ratio(noisy, base, seed=3), B.bootstrap_ratio(noisy, base, seed=3)
    assert a == b
    flat = B.bootstrap_ratio(noisy.reshape(-1), base.reshape(-1), groups=np.repeat(np.arange(50), 40), seed=3)
    assert flat == a  # (S, n) rows are the groups
    assert a.ci_low < a.ratio < a.ci_high
    assert a.ci_high - a.ci_low > 0.05  # the per-group factor spreads the resamples


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="levels, differences"):
        B.LinearAR(1, "logs")
    with pytest.raises(ValueError, match="order"):
        B.LinearAR(0)
    with pytest.raises(RuntimeError, match="not fitted"):
        B.LinearAR(1).predict(np.ones((3, 4)))
    with pytest.raises(ValueError, match="too short"):
        B.next_value_windows(np.ones((2, 5)), 5)


def test_on_the_real_sp500_ar1_on_differences_beats_persistence_and_drift_does_not(sp500_csv):
    """Fitted on 60 % of the stocks' normalized windows, scored on the others with 95 % intervals
    by resampling stocks: the daily highs' changes are slightly positively autocorrelated."""
    from lstm_ae.data.snp500 import WindowScaler, clean, read_csv

    values = clean(read_csv(sp500_csv)).values  # (477, 1007) dollars
    perm = np.random.default_rng(0).permutation(len(values))
    n_train = int(0.6 * len(values))
    scaler, L = WindowScaler(0.1), 49

    def normalized(rows):
        wins, y, _ = B.next_value_windows(values[rows], L)
        lo, span = scaler.fit(wins)
        return scaler.apply(wins, lo, span), (y - lo) / span

    xw, yw = normalized(perm[:n_train])
    ar = B.LinearAR(1, "differences").fit(xw.reshape(-1, L), yw.reshape(-1))
    assert 0.05 < ar.coef[1] < 0.15
    tw, ty = normalized(perm[n_train:])
    flat = tw.reshape(-1, L)

    def sq(pred):
        return (pred.reshape(ty.shape) - ty) ** 2

    pers = sq(B.persistence(flat))
    ar_score = B.bootstrap_ratio(sq(ar.predict(flat)), pers)
    drift_score = B.bootstrap_ratio(sq(B.drift(flat, 48)), pers)
    assert ar_score.n_groups == len(values) - n_train
    assert 0.98 < ar_score.ratio and ar_score.ci_high < 1.0
    assert drift_score.ci_low > 1.0


def _shared_day_errors(rng, n_stocks=40, n_days=200, run=5):
    """Squared errors of a model and a base on stocks that share their days: the model is better on
    some runs of `run` days and worse on others by a factor every stock shares (mean 1: the true ratio
    is 1)."""
    base = rng.exponential(size=(n_stocks, n_days))
    factor = np.repeat(rng.choice([0.7, 1.3], size=n_days // run), run)
    return base * factor[None, :] * rng.uniform(0.9, 1.1, size=(n_stocks, n_days)), base


def test_day_blocks_resampled_with_the_stocks_cover_a_shared_day_effect():
    """Stocks alone treat each day's common factor as 40 independent errors: their 95 % interval misses
    the true ratio 1 most of the time; resampling blocks of days jointly with the stocks covers it."""
    rng = np.random.default_rng(0)
    blocks = B.day_blocks(np.arange(200), 10)
    covered = {"stocks": 0, "stocks and days": 0}
    for _ in range(60):
        m, b = _shared_day_errors(rng)
        stocks = B.bootstrap_ratio(m, b, n_resamples=400)
        joint = B.bootstrap_ratio(m, b, blocks=np.broadcast_to(blocks, m.shape), n_resamples=400)
        assert stocks.ratio == pytest.approx(joint.ratio) and (stocks.n_blocks, joint.n_blocks) == (1, 20)
        assert joint.ci_high - joint.ci_low > 2 * (stocks.ci_high - stocks.ci_low)
        covered["stocks"] += stocks.ci_low <= 1.0 <= stocks.ci_high
        covered["stocks and days"] += joint.ci_low <= 1.0 <= joint.ci_high
    assert covered["stocks"] < 30 and covered["stocks and days"] >= 54, covered


def test_a_verdict_only_when_the_interval_excludes_one():
    assert B.Verdict.of(0.98, 0.99) is B.Verdict.BEATS
    assert B.Verdict.of(1.01, 1.2) is B.Verdict.WORSE
    assert B.Verdict.of(0.998, 1.001) is B.Verdict.UNDECIDED
    rng = np.random.default_rng(1)
    m, b = _shared_day_errors(rng)
    joint = B.bootstrap_ratio(m, b, blocks=np.broadcast_to(B.day_blocks(np.arange(200), 10), m.shape))
    assert joint.as_dict()["verdict"] == str(B.Verdict.of(joint.ci_low, joint.ci_high))
    clear = B.bootstrap_ratio(b * 0.8, b, blocks=np.broadcast_to(B.day_blocks(np.arange(200), 10), b.shape))
    assert clear.verdict is B.Verdict.BEATS and clear.ratio == pytest.approx(0.8)
    with pytest.raises(ValueError, match="group and .* block labels"):
        B.bootstrap_ratio(m, b, blocks=np.zeros(5))
