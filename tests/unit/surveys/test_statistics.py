"""Statistics against hand-computed values and scipy on fixed data sets."""

import pytest
from scipy import stats

from services.surveys.catalogue import default_for
from services.surveys.domain.results import Invitation, Response, programme_results
from services.surveys.domain.stats import (
    intention_summary,
    likert_summary,
    mcnemar_intention,
    wilcoxon_likert,
    wilson_interval,
)

# 5 yes->yes, 8 became yes (4 from no, 4 from maybe), 2 stopped being yes, 5 stayed no
INTENTION_PAIRS = (
    [("yes", "yes")] * 5
    + [("no", "yes")] * 4
    + [("maybe", "yes")] * 4
    + [("yes", "maybe")] * 2
    + [("no", "no")] * 3
    + [("maybe", "no")] * 2
)
# differences: 1 2 -1 3 0 1 2 1 -2 1 0 1
LIKERT_PRE = [2, 1, 4, 2, 3, 3, 2, 4, 5, 1, 3, 2]
LIKERT_POST = [3, 3, 3, 5, 3, 4, 4, 5, 3, 2, 3, 3]


def test_mcnemar_matches_the_hand_computed_exact_p_value_shift_and_interval():
    r = mcnemar_intention(INTENTION_PAIRS)
    assert (r["n_pairs"], r["became_yes"], r["stopped_yes"]) == (20, 8, 2)
    assert r["p_value"] == pytest.approx(112 / 1024, abs=1e-6)  # 2 * (1+10+45) / 2**10
    assert r["chi2_corrected"] == pytest.approx(2.5)  # (|8-2|-1)^2 / 10
    assert (r["share_yes_pre"], r["share_yes_post"], r["shift"]) == (0.35, 0.65, 0.3)
    # se = sqrt(10 - 6^2/20) / 20 = 0.143178; 0.3 -/+ 1.959964 * se
    assert r["ci95"] == [pytest.approx(0.0194, abs=1e-4), pytest.approx(0.5806, abs=1e-4)]


def test_mcnemar_without_discordant_pairs_finds_no_shift():
    r = mcnemar_intention([("yes", "yes")] * 6 + [("no", "no")] * 6)
    assert (r["p_value"], r["shift"], r["ci95"]) == (1.0, 0.0, [0.0, 0.0])


def test_wilcoxon_matches_hand_ranks_and_scipy():
    r = wilcoxon_likert(LIKERT_PRE, LIKERT_POST)
    # |d| nonzero: six 1s (ranks 1-6, mean 3.5), three 2s (7-9, mean 8), one 3 (rank 10)
    assert (r["n_pairs"], r["n_nonzero"]) == (12, 10)
    assert (r["r_plus"], r["r_minus"]) == (43.5, 11.5)
    assert r["w_statistic"] == 11.5
    assert r["effect_size"]["value"] == pytest.approx(32 / 55, abs=1e-4)
    expected = stats.wilcoxon([b - a for a, b in zip(LIKERT_PRE, LIKERT_POST)], zero_method="wilcox", correction=False)
    assert r["p_value"] == pytest.approx(expected.pvalue, abs=1e-6)
    assert r["mean_shift"] == 0.75 and r["median_shift"] == 1.0
    d = [b - a for a, b in zip(LIKERT_PRE, LIKERT_POST)]
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=0.75, scale=stats.sem(d))
    assert r["ci95"] == [pytest.approx(lo, abs=1e-4), pytest.approx(hi, abs=1e-4)]


def test_wilcoxon_without_any_change_gives_p_one_and_no_effect():
    r = wilcoxon_likert([3] * 10, [3] * 10)
    assert (r["p_value"], r["effect_size"]["value"], r["mean_shift"]) == (1.0, 0.0, 0.0)


def test_wilcoxon_refuses_unpaired_lists():
    with pytest.raises(ValueError):
        wilcoxon_likert([1, 2], [3])


def test_wilson_interval_matches_the_textbook_value():
    lo, hi = wilson_interval(7, 20)  # 0.35 of 20
    assert (lo, hi) == (pytest.approx(0.1812, abs=1e-4), pytest.approx(0.5671, abs=1e-4))
    ci = stats.binomtest(7, 20).proportion_ci(method="wilson")
    assert (lo, hi) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_unpaired_summaries_count_and_average():
    assert intention_summary(["yes", "no", "maybe", "yes"])["counts"] == {"yes": 2, "maybe": 1, "no": 1}
    s = likert_summary([1, 2, 3, 4, 5])
    assert s["mean"] == 3.0
    assert s["ci95"][0] == pytest.approx(3 - stats.t.ppf(0.975, 4) * stats.sem([1, 2, 3, 4, 5]), abs=1e-4)


def _answers(likert, intention):
    return {
        "self_efficacy_good_at_tech": likert,
        "self_efficacy_solve_problem": likert,
        "interest_tech": likert,
        "interest_jobs": likert,
        "intention_technical_study": intention,
    }


def _programme(n_pairs, extra_pre=0, school="12AB"):
    invitations, responses = [], []
    for i in range(n_pairs + extra_pre):
        ref = f"p{i}"
        for phase in ("pre", "post"):
            invitations.append(Invitation(ref, phase, school, "act-1"))
        pre, post = INTENTION_PAIRS[i % 20], (LIKERT_PRE[i % 12], LIKERT_POST[i % 12])
        responses.append(Response(ref, "pre", school, "act-1", _answers(post[0], pre[0])))
        if i < n_pairs:
            responses.append(Response(ref, "post", school, "act-1", _answers(post[1], pre[1])))
    pre_q, post_q = default_for("girls_day", "pre"), default_for("girls_day", "post")
    return programme_results("gd-2027", pre_q.items, post_q.items, invitations, responses)


def test_programme_results_pair_only_pupils_who_answered_both_phases():
    r = _programme(n_pairs=20, extra_pre=5)
    assert r["paired"]["n_pairs"] == 20
    assert r["paired"]["items"]["intention_technical_study"]["became_yes"] == 8
    assert r["unpaired"]["pre"]["interest_tech"]["n"] == 25
    assert r["unpaired"]["post"]["interest_tech"]["n"] == 20
    assert r["paired"]["label"].startswith("paired") and r["unpaired"]["label"].startswith("unpaired")
    assert r["response_rates"]["programme"]["pre"] == {"invited": 25, "responded": 25, "rate": 1.0}
    assert r["response_rates"]["programme"]["post"] == {"invited": 25, "responded": 20, "rate": 0.8}
    assert "liked_most" not in r["paired"]["items"]


def test_groups_with_fewer_than_ten_responses_are_never_shown():
    r = _programme(n_pairs=9)
    assert r["paired"]["n_pairs"] is None
    assert all(v == {"suppressed": True, "reason": "fewer than 10 responses"} for v in r["paired"]["items"].values())
    assert r["response_rates"]["schools"]["12AB"]["pre"]["suppressed"]
    assert r["unpaired"]["post"]["interest_tech"]["suppressed"]
