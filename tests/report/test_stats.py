import math

from sslab.report.stats import claim, mean_ci


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
