"""Server-side SVG charts."""

from __future__ import annotations

from quanzi.viz.charts import bar_chart, funnel_chart, histogram


def test_bar_chart_writes_values_shares_and_escapes_labels() -> None:
    svg = bar_chart(
        [("<b>vip</b>", 3), ("general", 1)], title="Tiers & more", colours={"general": "#123456"}
    )
    assert svg.startswith('<svg class="qz-chart"')
    assert 'aria-label="Tiers &amp; more"' in svg
    assert "&lt;b&gt;vip&lt;/b&gt;" in svg
    assert "<b>" not in svg
    assert "3 (75%)" in svg
    assert 'fill="#123456"' in svg
    assert "(" not in bar_chart([("a", 2)], title="t", shares=False).split("</title>", 1)[1]


def test_funnel_uses_given_rates_or_computes_them() -> None:
    stages = [("first contact", 200), ("intention", 50), ("order", 5)]
    assert "25% converted" in funnel_chart(stages, title="f")
    assert "10% converted" in funnel_chart(stages, title="f")
    given = funnel_chart(stages, title="f", rates=[0.3, None])
    assert "30% converted" in given
    assert "10% converted" in given


def test_empty_charts_say_so() -> None:
    for svg in (bar_chart([], title="t"), funnel_chart([], title="t"), histogram([], title="t")):
        assert "No data yet" in svg
    assert "No data yet" in histogram([("0–20%", 0)], title="t")
