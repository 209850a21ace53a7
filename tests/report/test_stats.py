"""Claims say what the evidence can bear: one seed gives no interval, an undecided claim names the seeds
that would decide it."""

import math

import pytest
from scipy import stats as sp

from sslab.report.stats import ONE_SEED, claim, mean_ci, seeds_to_decide, verdict_class, verdict_phrase


def test_one_seed_is_never_supported_or_contradicted():
    for value in (0.0, -0.3, 0.12):
        c = claim("x", [value], scale=100)
        assert c["verdict"] == ONE_SEED and "--seeds 3" in c["hint"] and c["n_seeds"] == 1
        assert verdict_class(c["verdict"]) == "noci" and "cannot judge" in verdict_phrase(c)


def test_two_winning_seeds_that_are_inconclusive_get_the_seeds_that_would_decide():
    c = claim("augmentation helps (points)", [0.12, 0.08], scale=100)
    assert c["verdict"] == "inconclusive" and c["per_seed"] == "+12.0, +8.0"
    n = seeds_to_decide([0.12, 0.08])
    assert f"`--seeds {n}`" in c["hint"]
    # n is the first count whose t-interval, at the observed mean and sd, clears zero.
    sd, mean = math.sqrt(((0.02) ** 2 * 2) / 1), 0.10
    half = lambda k: sp.t.ppf(0.975, k - 1) * sd / math.sqrt(k)  # noqa: E731
    assert half(n) < mean <= half(n - 1)


def test_decided_claims_carry_no_hint_and_a_flat_mean_says_more_seeds_will_not_help():
    assert claim("x", [0.5, 0.7, 0.6])["verdict"] == "supported" and claim("x", [0.5, 0.7, 0.6])["hint"] == ""
    assert claim("x", [-0.5, -0.7, -0.6])["verdict"] == "contradicted"
    flat = claim("x", [0.1, -0.1])
    assert flat["verdict"] == "inconclusive" and "too close" in flat["hint"] and seeds_to_decide([0.1, -0.1]) is None


@pytest.mark.parametrize("values", [[], [float("nan")]])
def test_no_values_is_inconclusive(values):
    assert claim("x", values)["verdict"] == "inconclusive"


def test_claim_leaves_out_missing_seeds_instead_of_counting_them():
    c = claim("x", [1.0, float("nan")])
    assert c["n_seeds"] == 1 and c["values"] == [1.0] and c["missing"] == 1
    c = claim("x", [None, 2.0, 3.0])
    assert c["n_seeds"] == 2 and c["mean"] == 2.5 and c["ci95"] > 0
    c = claim("x", [None, float("nan")])
    assert c["verdict"] == "inconclusive" and c["n_seeds"] == 0 and math.isnan(c["mean"])


def test_mean_ci_of_two_values():
    mean, half = mean_ci([1.0, 3.0])
    assert mean == 2.0 and abs(half - 12.706 * 1.0) < 1e-2  # t(0.975, 1) * sd/sqrt(2), sd = sqrt(2)
