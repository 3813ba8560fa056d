"""Live: hypothesis draws layers of every kind, torch measures them, paramcalc must agree.
Skipped without torch; .ci/run installs torch==2.13.0 so it runs in CI."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

pytest.importorskip("torch")

from helpers import analyze_case, case_spec_text  # noqa: E402
from torch_oracle import ORACLE_KINDS, measure, random_case  # noqa: E402

from paramcalc import SpecError  # noqa: E402


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(ORACLE_KINDS), rng=st.randoms(use_true_random=False))
def test_random_layer_matches_live_torch(kind, rng):
    case = random_case(kind, rng)
    expected = measure(case)
    if "error" in expected:
        with pytest.raises(SpecError):
            analyze_case(case)
    else:
        assert analyze_case(case) == expected, case_spec_text(case)
