"""Paired and unpaired statistics of the pre- and post-measurement (scipy, no I/O).

Paired (the same pseudonymous pupil answered both phases):
- intention (yes / maybe / no) is made binary, "yes" against the rest, and tested with the exact
  McNemar test (a binomial test on the discordant pairs); the shift in the share of "yes" carries a
  Wald 95 % interval for a paired difference of proportions.
- a Likert item is tested with the Wilcoxon signed-rank test (zero differences dropped, the
  "wilcox" method); the effect size is the matched-pairs rank-biserial correlation
  r = (R+ - R-) / (R+ + R-); the mean shift carries a t-based 95 % interval.
Unpaired figures (everyone who answered a phase) are separate and labelled so by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

MIN_GROUP = 10  # groups with fewer responses are never shown on their own
Z95 = float(stats.norm.ppf(0.975))


def _r(x: float | None, digits: int = 4) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), digits)


def mcnemar_intention(pairs: Sequence[tuple[str, str]]) -> dict:
    """pairs: (pre, post) intention answers of the same pupils."""
    n = len(pairs)
    a = sum(1 for pre, post in pairs if pre == "yes" and post == "yes")
    b = sum(1 for pre, post in pairs if pre != "yes" and post == "yes")  # became yes
    c = sum(1 for pre, post in pairs if pre == "yes" and post != "yes")  # stopped being yes
    discordant = b + c
    p = float(stats.binomtest(b, discordant, 0.5).pvalue) if discordant else 1.0
    chi2 = (abs(b - c) - 1) ** 2 / discordant if discordant else 0.0
    diff = (b - c) / n if n else 0.0
    se = math.sqrt(max(discordant - (b - c) ** 2 / n, 0.0)) / n if n else 0.0
    return {
        "test": "mcnemar_exact",
        "n_pairs": n,
        "became_yes": b,
        "stopped_yes": c,
        "share_yes_pre": _r((a + c) / n if n else None),
        "share_yes_post": _r((a + b) / n if n else None),
        "shift": _r(diff),
        "ci95": [_r(max(diff - Z95 * se, -1.0)), _r(min(diff + Z95 * se, 1.0))],
        "chi2_corrected": _r(chi2),
        "p_value": _r(p, 6),
    }


def wilcoxon_likert(pre: Sequence[int], post: Sequence[int]) -> dict:
    """pre[i] and post[i] are the same pupil's answers to one Likert item."""
    if len(pre) != len(post):
        raise ValueError("pre and post must be paired")
    x, y = np.asarray(pre, float), np.asarray(post, float)
    d = y - x
    n = len(d)
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz))
    r_plus, r_minus = float(ranks[nz > 0].sum()), float(ranks[nz < 0].sum())
    if len(nz):
        res = stats.wilcoxon(d, zero_method="wilcox", correction=False, alternative="two-sided")
        w, p = float(res.statistic), float(res.pvalue)
        r_rb = (r_plus - r_minus) / (r_plus + r_minus)
    else:
        w, p, r_rb = 0.0, 1.0, 0.0
    mean = float(d.mean()) if n else None
    half = (float(stats.t.ppf(0.975, n - 1)) * float(d.std(ddof=1)) / math.sqrt(n)) if n > 1 else None
    return {
        "test": "wilcoxon_signed_rank",
        "n_pairs": n,
        "n_nonzero": int(len(nz)),
        "mean_pre": _r(x.mean() if n else None),
        "mean_post": _r(y.mean() if n else None),
        "mean_shift": _r(mean),
        "ci95": [_r(mean - half), _r(mean + half)] if half is not None else [None, None],
        "median_shift": _r(float(np.median(d)) if n else None),
        "w_statistic": _r(w),
        "r_plus": _r(r_plus),
        "r_minus": _r(r_minus),
        "p_value": _r(p, 6),
        "effect_size": {"name": "matched_pairs_rank_biserial", "value": _r(r_rb)},
    }


def likert_summary(values: Sequence[int]) -> dict:
    v = np.asarray(values, float)
    n = len(v)
    mean = float(v.mean()) if n else None
    half = float(stats.t.ppf(0.975, n - 1)) * float(v.std(ddof=1)) / math.sqrt(n) if n > 1 else None
    return {"n": n, "mean": _r(mean), "ci95": [_r(mean - half), _r(mean + half)] if half is not None else [None, None]}


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def intention_summary(values: Sequence[str]) -> dict:
    n = len(values)
    counts = {k: sum(1 for v in values if v == k) for k in ("yes", "maybe", "no")}
    lo, hi = wilson_interval(counts["yes"], n)
    return {"n": n, "counts": counts, "share_yes": _r(counts["yes"] / n if n else None), "ci95": [_r(lo), _r(hi)]}


def suppress(block: dict, n: int) -> dict:
    """Groups with fewer than MIN_GROUP responses are never shown on their own."""
    if n < MIN_GROUP:
        return {"suppressed": True, "reason": f"fewer than {MIN_GROUP} responses"}
    return block
