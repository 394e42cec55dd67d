"""Pairwise precision and recall of resolved customers against a known truth.

Examples
--------
>>> predicted = {"a": "c1", "b": "c1", "c": "c2", "d": "c2"}
>>> truth = {"a": "p1", "b": "p1", "c": "p1", "d": "p2"}
>>> pairwise_scores(predicted, truth)
PairwiseScores(precision=0.5, recall=0.3333333333333333, f1=0.4, true_pairs=3, predicted_pairs=2)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from typing import NamedTuple

__all__ = ["PairwiseScores", "pairwise_scores"]


class PairwiseScores(NamedTuple):
    """Pairwise quality of a clustering.

    Attributes
    ----------
    precision : float
        Of the record pairs put in one customer, the share that are one true person.
    recall : float
        Of the record pairs of one true person, the share put in one customer.
    f1 : float
        Harmonic mean of the two.
    true_pairs, predicted_pairs : int
        Number of pairs in the truth and in the prediction.
    """

    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int


def _pairs(sizes: Counter[Hashable]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


def pairwise_scores(
    predicted: Mapping[str, Hashable], truth: Mapping[str, Hashable]
) -> PairwiseScores:
    """Compare ``record -> customer`` with ``record -> true person`` over their common records.

    Counts pairs from cluster sizes, so it runs in linear time on millions of records.
    """
    common = [r for r in predicted if r in truth]
    both = _pairs(Counter((predicted[r], truth[r]) for r in common))
    pred = _pairs(Counter(predicted[r] for r in common))
    true = _pairs(Counter(truth[r] for r in common))
    precision = both / pred if pred else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScores(precision, recall, f1, true, pred)
