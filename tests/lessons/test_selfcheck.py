import pytest

from aeos_lab.lessons.selfcheck import Checks


def test_a_failed_claim_raises_with_claim_measurement_and_rule_and_the_table_lists_all():
    checks = Checks()
    checks.claim("a", "the ratio hovers near 1", "0.98", "within [0.85, 1.15]: 15% band", True)
    with pytest.raises(AssertionError, match=r"\(b\) P rises: measured -2%; rule: > 0"):
        checks.claim("b", "P rises", "-2%", "> 0", False)
    frame = checks.frame()
    assert list(frame["held"]) == ["yes", "NO"]
    assert "1 of 2 claims held" in checks._repr_html_()
    assert "the ratio hovers near 1" in repr(checks)
