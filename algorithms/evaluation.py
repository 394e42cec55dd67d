"""Scoring rankings against known answers: precision@k and recall@k.

Used to evaluate lookalike searches (and their baselines) on held-out members of known
circles: hide some members, seed with the rest, and count how many hidden members come back
in the top ``k``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import pandas as pd

from quanzi.errors import InputError

__all__ = ["ranking_scores"]


def ranking_scores(
    ranked: Sequence[str], relevant: Collection[str], *, ks: Iterable[int] = (10,)
) -> pd.DataFrame:
    """Precision@k and recall@k of one ranking.

    Parameters
    ----------
    ranked : sequence of str
        Ids, best first (e.g. the ids of :func:`~quanzi.algorithms.lookalike.lookalikes`).
        A ranking shorter than ``k`` counts its missing places as misses.
    relevant : collection of str
        The ids that should come back (e.g. the held-out members of the seeds' circle).
    ks : iterable of int, default (10,)
        Cut-offs, each at least 1.

    Returns
    -------
    pandas.DataFrame
        One row per ``k`` (the index), columns ``hits`` (relevant ids in the top ``k``),
        ``precision`` (``hits / k``) and ``recall`` (``hits / len(relevant)``; 0 when
        nothing is relevant).

    Examples
    --------
    >>> ranking_scores(["a", "x", "b", "y"], {"a", "b", "c"}, ks=[1, 2, 4])
       hits  precision    recall
    k
    1     1        1.0  0.333333
    2     1        0.5  0.333333
    4     2        0.5  0.666667
    """
    given = list(ks)
    cutoffs = sorted({int(k) for k in given})
    if not cutoffs or cutoffs[0] < 1:
        raise InputError(f"ks must hold cut-offs of at least 1, got {given}")
    wanted = set(relevant)
    rows = []
    for k in cutoffs:
        hits = len(wanted.intersection(ranked[:k]))
        recall = hits / len(wanted) if wanted else 0.0
        rows.append({"k": k, "hits": hits, "precision": hits / k, "recall": recall})
    return pd.DataFrame(rows).set_index("k")
