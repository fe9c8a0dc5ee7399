"""Rich and JSON views of the trend (``gstjobs analytics``): one result feeds both."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from gstjobs import tables
from gstjobs.analytics.trend import Series, TenantTrend, sparkline

ANOMALY_STYLE = "bold red"
SHOWN = 3
RATES = {"task_completion_rate", "sla_compliance_rate", "hearing_attendance_rate"}


def trend_json(trends: Sequence[TenantTrend], database: str, days: int) -> dict[str, Any]:
    return {
        "database": database,
        "days": days,
        "tenants": [
            {
                "tenantId": str(t.tenant_id),
                "name": t.name,
                "from": t.dates[0].isoformat(),
                "to": t.dates[-1].isoformat(),
                "snapshots": t.snapshots,
                "dates": [d.isoformat() for d in t.dates],
                "metrics": {
                    s.metric: {
                        "values": list(s.values),
                        "sparkline": sparkline(s.values),
                        "first": s.first,
                        "last": s.last,
                        "min": s.minimum,
                        "max": s.maximum,
                        "anomalies": [
                            {
                                "date": a.day.isoformat(),
                                "value": a.value,
                                "average": a.average,
                                "deviation": a.deviation,
                            }
                            for a in s.anomalies
                        ],
                    }
                    for s in t.series
                },
            }
            for t in trends
        ],
    }


def trend_table(
    trends: Sequence[TenantTrend], database: str, days: int, width: int = tables.PIPE_WIDTH
) -> RenderableType:
    if not trends:
        return Text(f"no tenants in {database}")
    return Group(*(_tenant_table(t, days, width) for t in trends))


COLUMNS = (
    tables.Col("metric"),
    tables.Col("trend"),
    tables.Col("first", keep=3, justify="right"),
    tables.Col("last", justify="right"),
    tables.Col("min", keep=4, justify="right"),
    tables.Col("max", keep=4, justify="right"),
    tables.Col("anomalies", keep=1, free_text=True),
)


def _tenant_table(trend: TenantTrend, days: int, width: int) -> RenderableType:
    title = (
        f"{trend.name} ({trend.tenant_id}) — last {days} day(s), "
        f"{trend.dates[0]} to {trend.dates[-1]}: {trend.snapshots} snapshot(s)"
    )
    body: list[list[tables.Cell]] = [
        [
            s.metric,
            _spark(trend, s),
            _fmt(s.metric, s.first),
            _fmt(s.metric, s.last),
            _fmt(s.metric, s.minimum),
            _fmt(s.metric, s.maximum),
            _anomalies(s),
        ]
        for s in trend.series
    ]
    table = tables.fitted(COLUMNS, body, width, title=title)
    if not trend.snapshots:
        tables.note(table, "no snapshots in this window; see `gstjobs analytics backfill`")
    return table


def _spark(trend: TenantTrend, series: Series) -> Text:
    """The sparkline, with each anomalous day's block in red."""
    flagged = {a.day for a in series.anomalies}
    text = Text()
    for day, char in zip(trend.dates, sparkline(series.values), strict=True):
        text.append(char, style=ANOMALY_STYLE if day in flagged else "")
    return text


def _anomalies(series: Series) -> Text:
    """The latest SHOWN anomalies in red (all of them are in --json)."""
    if not series.anomalies:
        return Text("—", style="dim")
    parts = []
    earlier = len(series.anomalies) - SHOWN
    if earlier > 0:
        parts.append(f"{earlier} earlier")
    for a in series.anomalies[-SHOWN:]:
        if a.deviation is None:
            change = f"from avg {_fmt(series.metric, a.average)}"
        else:
            sign = "+" if a.value > a.average else "−"
            change = f"{sign}{a.deviation:.0%} vs avg {_fmt(series.metric, a.average)}"
        parts.append(f"{a.day:%m-%d} {_fmt(series.metric, a.value)} ({change})")
    return Text("; ".join(parts), style=ANOMALY_STYLE)


def _fmt(metric: str, value: int | float | None) -> str:
    if value is None:
        return "—"
    if metric in RATES:
        return f"{value:.1%}"
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
