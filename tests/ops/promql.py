"""Metric and label names a PromQL expression reads (enough for dashboards and alert rules)."""

from __future__ import annotations

import re

_FUNCTIONS_AND_KEYWORDS = frozenset(
    [
        "abs",
        "absent",
        "absent_over_time",
        "avg",
        "avg_over_time",
        "bottomk",
        "ceil",
        "changes",
        "clamp",
        "clamp_max",
        "clamp_min",
        "count",
        "count_over_time",
        "count_values",
        "day_of_month",
        "day_of_week",
        "delta",
        "deriv",
        "exp",
        "floor",
        "group",
        "histogram_quantile",
        "holt_winters",
        "idelta",
        "increase",
        "irate",
        "label_join",
        "label_replace",
        "last_over_time",
        "ln",
        "log2",
        "log10",
        "max",
        "max_over_time",
        "min",
        "min_over_time",
        "predict_linear",
        "quantile",
        "quantile_over_time",
        "rate",
        "resets",
        "round",
        "scalar",
        "sort",
        "sort_desc",
        "sqrt",
        "stddev",
        "stdvar",
        "sum",
        "sum_over_time",
        "time",
        "timestamp",
        "topk",
        "vector",
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "inf",
        "nan",
    ]
)
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
_TOKEN = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w(])(?!\s*\()")
_DURATION = re.compile(r"\[[^\]]*\]")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects."""
    text = _STRINGS.sub('""', expr)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = _DURATION.sub(" ", text)
    text = re.sub(r"\$\w+", " ", text)
    names = {m for m in _TOKEN.findall(text) if m not in _FUNCTIONS_AND_KEYWORDS}
    return {n for n in names if not re.fullmatch(r"\d.*|e\d+", n)}


def selector_labels(expr: str) -> dict[str, set[str]]:
    """Per metric, the label names its `{...}` matchers use."""
    found: dict[str, set[str]] = {}
    for name, matchers in _SELECTOR.findall(expr):
        labels = {m.group(1) for m in re.finditer(r"([a-zA-Z_]\w*)\s*(=~|!~|!=|=)", matchers)}
        found.setdefault(name, set()).update(labels)
    return found
