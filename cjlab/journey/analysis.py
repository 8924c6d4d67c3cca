"""The journey analysis of notebooks/05_journey.ipynb: :func:`analyse` and :func:`from_source`.

:func:`analyse` takes the contract tables (pandas, DuckDB or Spark frames: every aggregation of
raw rows runs through :mod:`cjlab.features`, where the data live) and returns a
:class:`JourneyAnalysis` with the funnel, stage timing, paths, attribution, flows and the
journey map, its headline and its KPIs. Sections whose optional inputs are absent are listed
in ``skipped`` with the sentence a report shows in their place:

========================  ===========================================================
section                   needs
========================  ===========================================================
``breakdown``             a breakdown column (device, campaign ...; else first-touch channel)
``paths``, ``attribution``  the orders table (who bought, when)
``churn_paths``           the cancelled_at column of customers
``emotion``               survey_responses with rating_<touchpoint> columns
``actions``               the analysts' action table
``demo_check``            the demo company's planted truth
========================  ===========================================================

:func:`from_source` opens a data source, reads the action table (a YAML file) and calls
:func:`analyse`; it is the only part that touches files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from cjlab.data.contract import STAGES
from cjlab.features import has, to_pandas
from cjlab.features.sequences import distinct_steps, latest
from cjlab.journey.attribution import MarkovAttribution, NoisyOrAttribution, attribution_table
from cjlab.journey.flows import stage_flows
from cjlab.journey.funnels import (
    FunnelResult,
    funnel,
    funnel_by,
    furthest_stages,
    stage_durations,
    stage_progress,
)
from cjlab.journey.inputs import JourneyInputError, action_table, check_stages
from cjlab.journey.journey_map import journey_map, rating_columns, stage_emotion
from cjlab.journey.paths import attribution_paths, top_paths
from cjlab.journey.results import NO_ORDERS, NO_ORDERS_PATHS, JourneyAnalysis
from cjlab.results import NotApplicable

__all__ = [
    "MODELS",
    "JourneyAnalysis",
    "JourneyOptions",
    "analyse",
    "from_source",
    "read_actions",
    "resolve_actions_file",
]

MODELS = ("first", "last", "linear", "position", "markov", "noisy_or")
FIRST_TOUCH = ("device", "channel", "campaign")
#: sources with up to this many touchpoints are analysed in pandas by from_source(engine="auto")
PANDAS_ROWS = 5_000_000


def _empty(value: Any) -> bool:
    return (
        value is None or (isinstance(value, str | list | tuple) and len(value) == 0) or value == 0
    )


def _with_values(table: Any, col: str) -> bool:
    """``col`` is present (and, for pandas, holds a value); lazy sources drop empty columns."""
    if table is None or not has(table, col):
        return False
    return bool(table[col].notna().any()) if isinstance(table, pd.DataFrame) else True


def _funnels(
    tp: Any,
    customers: Any,
    steps: list[str],
    window_days: float | None,
    breakdown: str,
    as_of: str,
    skipped: dict,
    notes: list,
) -> tuple[FunnelResult, FunnelResult | None]:
    touch_cols = [c for c in FIRST_TOUCH if _with_values(tp, c)]
    on_touch = _with_values(tp, breakdown) if breakdown else False
    on_customer = bool(breakdown) and not on_touch and _with_values(customers, breakdown)
    fun = funnel(
        tp,
        steps,
        window_days=window_days,
        first_touch=touch_cols,
        as_of=as_of,
        breakdown=breakdown if on_customer else None,
        customers=customers if on_customer else None,
    )
    fun = funnel_by(fun, None)
    if not breakdown:
        skipped["breakdown"] = (
            "No breakdown was chosen (parameter breakdown), so the funnel is shown for all customers."
        )
        return fun, None
    if on_touch or on_customer:
        return fun, funnel_by(fun, breakdown)
    notes.append(
        f"The data have no {breakdown} column, so the funnel is broken down by the channel of the "
        "first touch instead."
    )
    return fun, funnel_by(fun, "channel")


def _paths(
    tp: Any,
    orders: Any,
    customers: Any,
    channels: list[str],
    exclude: Sequence[str],
    as_of: str,
    top_n: int,
    skipped: dict,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if _with_values(customers, "cancelled_at"):
        churn = top_paths(
            tp,
            None,
            n=top_n,
            outcome="churn",
            customers=customers,
            by="touchpoint",
            lookback_days=90,
            as_of=as_of,
            exclude_touchpoints=exclude,
        )
        out["top_churn"] = churn
        if churn.empty:
            skipped["churn_paths"] = "No customer with touches had cancelled by the analysis day."
    else:
        skipped["churn_paths"] = (
            "The touches before cancelling need the cancelled_at column of the "
            "customers table (contractual churn)."
        )
    if orders is None:
        skipped["paths"], skipped["attribution"] = NO_ORDERS_PATHS, NO_ORDERS
        return out
    kw = {"channels": channels, "exclude_touchpoints": exclude, "as_of": as_of}
    out["paths"] = attribution_paths(tp, orders, **kw)
    out["top_purchase"] = top_paths(tp, orders, n=top_n, **kw)
    out["top_no_purchase"] = top_paths(tp, orders, n=top_n, reached=False, **kw)
    if out["paths"]["conversions"].sum() == 0:
        skipped["attribution"] = (
            "No customer bought after a touch on these channels, so there are no "
            "purchases to credit to channels."
        )
    return out


def _attribution(
    paths: pd.DataFrame,
    models: Sequence[str],
    markov_order: int,
    n_boot: int,
    level: float,
    random_state: int,
) -> dict[str, Any]:
    mk = MarkovAttribution(markov_order, n_boot=n_boot, level=level, random_state=random_state).fit(
        paths
    )
    cf = NoisyOrAttribution(n_boot=min(n_boot, 50), level=level, random_state=random_state).fit(
        paths
    )
    table = attribution_table(
        paths, [m for m in models if m != "noisy_or"] or ["markov"], order=markov_order
    )
    if "noisy_or" in models:
        table = table.merge(
            cf.result_.set_index("channel")["contribution"].rename("noisy_or"),
            left_on="channel",
            right_index=True,
            how="left",
        )
    return {"markov": mk.result_, "counterfactual": cf.result_, "attribution": table}


def _truth_check(
    truth: Mapping[str, Any] | None,
    fun: FunnelResult,
    markov: pd.DataFrame | None,
    cf: pd.DataFrame | None,
) -> pd.DataFrame | None:
    if not truth:
        return None
    rows = []
    planted = (truth.get("funnel") or {}).get("biggest_drop_after")
    if planted:
        rows.append(("Stage after which most customers are lost", planted, fun.biggest_dropoff))
    rank = (truth.get("attribution") or {}).get("rank")
    for name, res in (("counterfactual", cf), ("Markov", markov)):
        if rank and res is not None:
            rows.append((f"Channel ranking ({name})", ", ".join(rank), ", ".join(res["channel"])))
    out = pd.DataFrame(rows, columns=["check", "planted", "found"])
    out["agrees"] = out["planted"] == out["found"]
    return out


def _prepare(
    tables: Mapping[str, Any], on_unknown: str
) -> tuple[Any, Any, Any, pd.DataFrame | None, dict]:
    if tables.get("touchpoints") is None:
        raise NotApplicable("The journey analysis needs the touchpoints table.")
    tp, handling = check_stages(tables["touchpoints"], on_unknown=on_unknown)
    survey = tables.get("survey_responses")
    return (
        tp,
        tables.get("orders"),
        tables.get("customers"),
        None if survey is None else to_pandas(survey),
        handling,
    )


@dataclass(frozen=True)
class JourneyOptions:
    """The parameters of :func:`analyse`, named as the notebook's parameters they come from.

    Empty values (``""``, ``[]``, ``0``) mean the default, as in the notebook.

    Parameters
    ----------
    as_of : analysis day; empty means the truth's observation end or the last touch.
    funnel_steps : ordered funnel steps (lifecycle stages); empty means all 11.
    window_days : conversion window from the first step in days; 0 or None means no limit.
    breakdown : funnel breakdown: a touch column (first-touch value) or a customers column;
        empty means none; a column the data lack falls back to the first-touch channel.
    channels : channels of the paths and attribution; empty means those customers meet in the
        pre-purchase stages (awareness .. persuasion).
    exclude_touchpoints : passive touches left out of paths, attribution and flows.
    attribution_models : the models compared in the attribution table (:data:`MODELS`).
    markov_order : order of the Markov chain.
    n_boot : bootstrap resamples of the attribution intervals (the noisy-OR model: at most 50).
    level : interval mass.
    top_n : paths listed.
    flows_by : flow diagram of ``"channel"`` (before the purchase) or ``"stage"`` steps.
    flow_steps : how many steps the flow diagram follows.
    on_unknown : touches with unknown stages: ``"drop"`` (and count) or ``"raise"``.
    random_state : seed of the bootstrap.
    """

    as_of: Any = None
    funnel_steps: Sequence[str] | None = None
    window_days: float | None = None
    breakdown: str | None = "device"
    channels: Sequence[str] | None = None
    exclude_touchpoints: Sequence[str] = ("newsletter_open",)
    attribution_models: Sequence[str] = MODELS
    markov_order: int = 1
    n_boot: int = 100
    level: float = 0.9
    top_n: int = 10
    flows_by: str = "channel"
    flow_steps: int = 4
    on_unknown: str = "drop"
    random_state: int = 0


def _as_of(as_of: Any, truth: Mapping[str, Any] | None, tp: Any) -> str:
    if _empty(as_of):
        as_of = (truth or {}).get("observation_end") or latest(tp)
    if as_of is None:
        raise NotApplicable(
            "The journey analysis needs touchpoints with a known stage; none are left."
        )
    return str(pd.Timestamp(as_of).date())


def _flows(
    tp: Any, orders: Any, o: JourneyOptions, channels: list[str], as_of: str, notes: list
) -> dict:
    by = o.flows_by
    if by != "stage" and orders is None:
        notes.append(
            "Without orders the flow diagram follows the stages instead of the channels before a purchase."
        )
        by = "stage"
    flows = stage_flows(
        tp,
        orders,
        by=by,
        max_steps=o.flow_steps,
        as_of=as_of,
        exclude_touchpoints=o.exclude_touchpoints,
        channels=channels if by == "channel" else None,
    )
    return {"flows": flows, "flows_by": by}


def _map(
    tp: Any, survey: pd.DataFrame | None, actions: pd.DataFrame | None, as_of: str, skipped: dict
) -> dict:
    if survey is None or not rating_columns(survey):
        skipped["emotion"] = (
            "The journey map has no ratings or emotions: that needs the survey_responses table "
            "with rating_<touchpoint> columns."
        )
        survey = None
    if actions is None:
        skipped["actions"] = (
            "No action table was given, so the journey map lists no actions and owners."
        )
    jm = journey_map(tp, survey, actions, as_of=as_of)
    return {"journey_map": jm, "emotion": stage_emotion(jm), "actions": actions}


def analyse(
    tables: Mapping[str, Any],
    *,
    truth: Mapping[str, Any] | None = None,
    actions: pd.DataFrame | None = None,
    **params: Any,
) -> JourneyAnalysis:
    """Funnel, stage timing, paths, attribution, flows and the journey map for one data set.

    Parameters
    ----------
    tables : contract tables; ``touchpoints`` is required, ``orders``, ``customers`` and
        ``survey_responses`` enable their sections (pandas, DuckDB or Spark frames).
    truth : the demo company's planted truth (for the analysts' check), if any.
    actions : the action table (:func:`cjlab.journey.inputs.action_table`), or None.
    **params : the fields of :class:`JourneyOptions` (``as_of``, ``funnel_steps``,
        ``window_days``, ``breakdown``, ``channels``, ``n_boot``, ``level`` ...).

    Returns
    -------
    :class:`JourneyAnalysis`.
    """
    o = JourneyOptions(**params)
    tp, orders, customers, survey, handling = _prepare(tables, o.on_unknown)
    skipped: dict[str, str] = {}
    notes: list[str] = []
    as_of = _as_of(o.as_of, truth, tp)
    furthest = furthest_stages(tp, as_of=as_of)
    if furthest["customers"].sum() == 0:
        raise JourneyInputError(
            f"no touchpoints on or before as_of={as_of}: choose a later analysis day"
        )
    steps = list(STAGES) if _empty(o.funnel_steps) else list(o.funnel_steps)
    window = None if _empty(o.window_days) else float(o.window_days)
    fun, fb = _funnels(tp, customers, steps, window, o.breakdown or "", as_of, skipped, notes)
    channels = (
        list(o.channels)
        if not _empty(o.channels)
        else distinct_steps(
            tp, "channel", stages=STAGES[:4], exclude_touchpoints=o.exclude_touchpoints, as_of=as_of
        )
    )
    parts = _paths(tp, orders, customers, channels, o.exclude_touchpoints, as_of, o.top_n, skipped)
    if parts.get("paths") is not None:
        n_empty = int(
            furthest["customers"].sum() - parts["paths"][["conversions", "null"]].to_numpy().sum()
        )
        if n_empty > 0:
            handling["customers without a touch on these channels (no path)"] = n_empty
    if "attribution" not in skipped:
        parts |= _attribution(
            parts["paths"], o.attribution_models, o.markov_order, o.n_boot, o.level, o.random_state
        )
    parts |= _flows(tp, orders, o, channels, as_of, notes) | _map(
        tp, survey, actions, as_of, skipped
    )
    if handling:
        notes.append("Input handling: " + "; ".join(f"{k}: {v:,}" for k, v in handling.items()))
    check = _truth_check(truth, fun, parts.get("markov"), parts.get("counterfactual"))
    if check is None:
        skipped["demo_check"] = (
            "No planted truth to compare with: these are not the demo company's data."
        )
    return JourneyAnalysis(
        as_of=as_of,
        funnel=fun,
        funnel_breakdown=fb,
        durations=stage_durations(stage_progress(tp, as_of=as_of)),
        furthest=furthest,
        handling=dict(handling),
        channels=tuple(channels),
        markov_order=o.markov_order,
        level=o.level,
        truth_check=check,
        skipped=skipped,
        notes=tuple(notes),
        **parts,
    )


def resolve_actions_file(path: str | os.PathLike) -> Path | None:
    """Where the action file is: as given, else relative to ``$CJLAB_HOME``, else to the parent
    of the working directory (notebooks run in ``notebooks/``, the file lives in the project's
    ``params/``). None when it is in none of these places."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p if p.is_file() else None
    places = [Path.cwd() / p]
    if os.environ.get("CJLAB_HOME"):
        places.append(Path(os.environ["CJLAB_HOME"]).expanduser() / p)
    places.append(Path.cwd().parent / p)
    return next((q for q in places if q.is_file()), None)


def read_actions(path: str | os.PathLike) -> pd.DataFrame:
    """Read the analysts' action and owner table (``params/journey_actions.yaml``).

    The path is resolved by :func:`resolve_actions_file`; the entries are checked by
    :func:`cjlab.journey.inputs.action_table` (an unknown stage is an error).
    """
    import yaml

    found = resolve_actions_file(path)
    if found is None:
        raise FileNotFoundError(
            f"journey action table {path} not found (looked relative to the working directory, "
            "$CJLAB_HOME and the parent of the working directory)"
        )
    with open(found, encoding="utf-8") as fh:
        return action_table(yaml.safe_load(fh) or {})


def _tables(src: Any, engine: str) -> dict[str, Any]:
    """The source's journey tables: pandas for small data, else frames where the data live."""
    avail = src.available()
    present = [t for t in ("touchpoints", "orders", "customers") if t in src.tables]
    if engine == "auto":
        small = src.kind != "spark" and src.row_counts().get("touchpoints", 0) <= PANDAS_ROWS
        engine = "pandas" if small else "lazy"
    if engine not in ("pandas", "lazy"):
        raise ValueError(f"engine must be 'auto', 'pandas' or 'lazy', got {engine!r}")
    tables: dict[str, Any] = {}
    loaded = src.load(*present) if engine == "pandas" else {t: src.lazy(t) for t in present}
    for t, frame in loaded.items():
        names = list(frame.columns) if engine == "pandas" else frame.collect_schema().names()
        keep = [
            c for c in names if c in avail.get(t, ())
        ]  # optional columns without values count as absent
        tables[t] = frame[keep] if engine == "pandas" else frame.select(*keep)
    if "survey_responses" in src.tables:
        tables["survey_responses"] = src.table("survey_responses")
    return tables


def from_source(
    data_source: Any = "demo",
    *,
    actions_file: str | os.PathLike | None = "params/journey_actions.yaml",
    engine: str = "auto",
    **params: Any,
) -> JourneyAnalysis:
    """:func:`analyse` on a cjlab data source (``"demo"``, a folder, a .duckdb file, ``spark:...``).

    With ``engine="auto"`` tables of up to :data:`PANDAS_ROWS` touchpoints are loaded into
    pandas (fastest for small data); larger ones and Spark sources stay where they are
    (``"lazy"``: DuckDB or Spark) and are aggregated there, with the same results. Optional
    columns without any value count as absent. The action table is read from ``actions_file``
    (see :func:`resolve_actions_file`; empty = none); a missing file leaves the map without
    actions and says so. ``params`` are those of :func:`analyse`.

    Raises
    ------
    NotApplicable : the source has no touchpoints.
    """
    from cjlab.data import open_source
    from cjlab.data.requirements import unmet

    src = open_source(data_source)
    reason = unmet([{"touchpoints": []}], src.available())
    if reason:
        raise NotApplicable(f"The journey analysis {reason}.")
    tables = _tables(src, engine)
    found = resolve_actions_file(actions_file) if actions_file else None
    actions = read_actions(found) if found is not None else None
    a = analyse(tables, truth=src.truth, actions=actions, **params)
    if actions_file and found is None:
        msg = f"The action table {actions_file} was not found, so the journey map lists no actions and owners."
        a = replace(a, skipped={**a.skipped, "actions": msg})
    return a
