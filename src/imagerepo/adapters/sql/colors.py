"""The color score and the near test in SQL: ``ranking.color_term_score``, spelled for a database.

Only +, -, *, sqrt and a floor on IEEE doubles, each correctly rounded, so SQLite and PostgreSQL
compute the very integer the domain does (the property tests in tests/unit/test_search_index_rules.py
and the contract suite compare them).
"""

from __future__ import annotations

from imagerepo.domain.colors import COLOR_SHARE_WEIGHT, Lab
from imagerepo.domain.ranking import COLOR_CUTOFF_SQUARED, COLOR_SCORE_SCALE


def color_term_sql(floor_to_int: str) -> str:
    """``color_term_score`` of a search_colors row ``c`` in SQL, without the cut-off test; takes
    ``color_term_params(lab)``. ``floor_to_int`` wraps an expression ``{}`` into an integer."""
    d2 = "((? - c.l) * (? - c.l) + (? - c.a) * (? - c.a) + (? - c.b) * (? - c.b))"
    return floor_to_int.format(f"(sqrt({d2}) + ? * (? - c.fraction)) * ?")


def color_term_params(lab: Lab) -> list[float]:
    return [lab[0], lab[0], lab[1], lab[1], lab[2], lab[2], COLOR_SHARE_WEIGHT, 1.0, COLOR_SCORE_SCALE]


def color_near_sql() -> str:
    """SQL test that a search_colors row ``c`` lies within a radius of the query: takes
    ``color_near_params(lab, radius_squared)``."""
    return "(? - c.l) * (? - c.l) + (? - c.a) * (? - c.a) + (? - c.b) * (? - c.b) <= ?"


def color_near_params(lab: Lab, radius_squared: float = COLOR_CUTOFF_SQUARED) -> list[float]:
    return [lab[0], lab[0], lab[1], lab[1], lab[2], lab[2], radius_squared]


# Slack of the box around the near test's ball: the box only spares rows the arithmetic of the
# near test, so it must hold every row that test keeps, rounding included.
_BOX_SLACK = 0.01


def color_box_sql() -> str:
    """SQL test that a search_colors row ``c`` lies in the cube around the query holding the
    ball of color_near_sql: six comparisons, far cheaper per row than the distance's arithmetic
    (a bucket reaches well beyond the ball); takes ``color_box_params(lab, radius)``."""
    return "c.l BETWEEN ? AND ? AND c.a BETWEEN ? AND ? AND c.b BETWEEN ? AND ?"


def color_box_params(lab: Lab, radius: float) -> list[float]:
    return [v for x in lab for v in (x - radius - _BOX_SLACK, x + radius + _BOX_SLACK)]


def color_reach_sql() -> str:
    """SQL test that a search_colors row ``c`` lies within ``radius - COLOR_SHARE_WEIGHT x (1 -
    its share)`` of the query: the only colors that can score within ``radius`` (shares are at
    most 1, so this ball lies inside color_near_sql's of the same radius); takes
    ``color_reach_params(lab, radius)``. Spares the score's arithmetic to the colors too small
    for their distance."""
    return (
        "(? - c.l) * (? - c.l) + (? - c.a) * (? - c.a) + (? - c.b) * (? - c.b)"
        " <= (? + ? * c.fraction) * (? + ? * c.fraction)"
    )


def color_reach_params(lab: Lab, radius: float) -> list[float]:
    base = radius - COLOR_SHARE_WEIGHT
    return [lab[0], lab[0], lab[1], lab[1], lab[2], lab[2], base, COLOR_SHARE_WEIGHT, base, COLOR_SHARE_WEIGHT]
