"""SPEC 11.4 ``scale``: the key's contract checks, and the sliding scale on improvement outcomes.

The amounts are worked by hand from the SPEC text: price × units × f ×
(1 − deadweight), f = min(1, (improvement − zero_at) / (full_at − zero_at)),
rounded once, half away from zero, to the minor unit.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import tomli_w
from conftest import contract_dict

from sob.contract import check_contract_text
from sob.contract.model import Scale


def check(**overrides):
    text = tomli_w.dumps(contract_dict(**overrides))
    return check_contract_text(text, Path("c.toml"))


def improvement(**keys):
    return {"id": "I", "kind": "improvement", "direction": "increase", "price": 100, **keys}


def codes(findings):
    return sorted(f.code for f in findings if f.severity == "error")


def test_a_scale_is_read_exactly_on_both_kinds():
    contract, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": "0.5", "full_at": "1.4"}},
                                         improvement(scale={"zero_at": 0, "full_at": "0.30"})])
    assert findings == []
    assert contract.outcome("P").scale == Scale(Decimal("0.5"), Decimal("1.4"))
    assert contract.outcome("I").scale == Scale(Decimal(0), Decimal("0.30"))


def test_a_decreasing_scale_is_fine_on_a_claim_outcome():
    contract, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": 10, "full_at": 2}}])
    assert findings == [] and contract.outcome("P").scale == Scale(Decimal(10), Decimal(2))


def test_zero_at_equal_to_full_at_is_bad_scale():
    _, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": "1.40", "full_at": "1.4"}}])
    assert codes(findings) == ["BAD_SCALE"]


def test_zero_at_above_full_at_on_an_improvement_is_bad_scale():
    _, findings = check(outcomes=[improvement(scale={"zero_at": 5, "full_at": 1})])
    assert codes(findings) == ["BAD_SCALE"]


def test_scale_with_steps_is_bad_scale():
    out = improvement(steps=[{"at": "0.1", "amount": 5}], scale={"zero_at": 0, "full_at": 1})
    del out["price"]
    _, findings = check(outcomes=[out])
    assert codes(findings) == ["BAD_SCALE"]


def test_a_scale_needs_both_ends_as_numbers():
    _, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": 1}}])
    assert codes(findings) == ["MISSING_KEY"]
    _, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": 1, "full_at": "lots"}}])
    assert codes(findings) == ["WRONG_TYPE"]
    _, findings = check(outcomes=[{"id": "P", "price": 400, "scale": {"zero_at": 1, "full_at": 2, "mid": 1}}])
    assert codes(findings) == ["UNKNOWN_KEY"]
