"""Graph intelligence as pure functions on in-memory graphs.

One module per family, each importable on its own (nothing is imported here, so using
circles does not load scikit-learn):

- :mod:`quanzi.algorithms.circles` — Leiden circles, their hierarchy, stable ids, descriptions
- :mod:`quanzi.algorithms.influence` — PageRank, referral reach, brokerage, core depth, composite
- :mod:`quanzi.algorithms.lookalike` — prospects who resemble seed customers, with reasons
- :mod:`quanzi.algorithms.churn` — graph features and a calibrated churn model with reasons
- :mod:`quanzi.algorithms.lifecycle` — tiers, funnel stages, conversion, RFM, preferences

Every function takes the graph first (an ``igraph.Graph`` whose vertices carry the
customer ``"id"`` and whose edges carry ``"weight"``), options keyword-only, is
deterministic for a ``seed``, does no I/O and returns plain typed records.
"""
