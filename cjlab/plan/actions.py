"""The action table of the plan: what each action targets, its assumed effect and its cost.

The analysts' action file (``params/journey_actions.yaml``, also read by notebook 05 for the
journey map) lists one entry per action with ``stage``, ``touchpoint``, ``action``, ``owner``
and ``due``; for the plan an entry adds

``id``        a short name (used by the action trees; default: the stage and its number)
``category``  the customer category it targets (a value of the plan's ``category`` column,
              such as ``mobile`` for the device); empty = everybody
``product``   the product category it concerns (text for the plan; empty = all products)
``effect``    what it changes, with an assumed range ``low`` .. ``high``:

              * ``kind: transition`` — the step from ``stage`` to the next converts ``low`` to
                ``high`` more (a share: 0.03 = +3 points; pre-purchase stages only);
              * ``kind: value`` — the 12-month value of the customers who reached ``stage``
                changes by ``low`` to ``high`` (relative: 0.02 = +2 %);
              * ``kind: pain`` — ``low`` to ``high`` of the pain point at ``touchpoint`` (or
                the one named ``pain``) goes away; ``value_low`` .. ``value_high`` is the change
                of its customers' value (default none: NPS only);
              * ``kind: spend_shift`` — ``low`` to ``high`` of the acquisition spend moves from
                ``source`` to ``target`` (with the file's ``cost_per_prospect``);
``cost``      what it costs over the 12 months of the plan (money)
``test``      how it is confirmed (text; default: an A/B test of its target)

``trees`` list sequences and alternatives: ``{name, root, then: [ids or nested trees]}`` — do
``root``, then one of the ``then`` alternatives (each may have its own ``then``).

Examples
--------
>>> spec = {"cost_per_prospect": {"paid_search": 10, "email": 5},
...         "actions": [{"id": "cmp", "stage": "comparison", "action": "Comparison pages",
...                      "effect": {"kind": "transition", "low": 0.03, "high": 0.06}, "cost": 1000},
...                     {"stage": "support", "action": "Hotline"}],
...         "trees": [{"name": "Comparison", "root": "cmp"}]}
>>> plan = action_plan(spec)
>>> plan.actions[["id", "kind", "effect_low", "cost"]].values.tolist()
[['cmp', 'transition', 0.03, 1000.0], ['support_2', None, nan, 0.0]]
>>> plan.trees[0].leaves()
[('cmp',)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cjlab.data.contract import STAGES

__all__ = [
    "ACTION_COLUMNS",
    "EFFECT_KINDS",
    "ActionPlan",
    "ActionPlanError",
    "ActionTree",
    "action_plan",
]

EFFECT_KINDS = ("transition", "value", "pain", "spend_shift")
ACTION_COLUMNS = [
    "id", "stage", "touchpoint", "action", "owner", "due", "category", "product", "kind",
    "effect_low", "effect_high", "value_low", "value_high", "pain", "source", "target", "cost",
    "test",
]  # fmt: skip


class ActionPlanError(ValueError):
    """An action file entry that cannot be simulated as written (the message names it)."""


@dataclass(frozen=True)
class ActionTree:
    """Do ``root``, then one of the ``then`` alternatives (each a tree of its own)."""

    name: str
    root: str
    then: tuple[ActionTree, ...] = ()

    def leaves(self) -> list[tuple[str, ...]]:
        """Every sequence of actions the tree allows, root alone first."""
        out = [(self.root,)]
        for child in self.then:
            out += [(self.root, *leaf) for leaf in child.leaves()]
        return out

    def ids(self) -> set[str]:
        """Every action the tree names."""
        return {self.root}.union(*(c.ids() for c in self.then))


@dataclass(frozen=True)
class ActionPlan:
    """The parsed action file: :attr:`actions` (one row per action, :data:`ACTION_COLUMNS`),
    :attr:`trees` and :attr:`cost_per_prospect`."""

    actions: pd.DataFrame
    trees: tuple[ActionTree, ...] = ()
    cost_per_prospect: Mapping[str, float] = field(default_factory=dict)

    @property
    def simulated(self) -> pd.DataFrame:
        """The actions with an effect to simulate."""
        return self.actions[self.actions["kind"].notna()].reset_index(drop=True)


def _text(v: Any) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    s = str(v).strip()
    return s or None


def _number(v: Any, what: str, default: float = np.nan) -> float:
    if v is None or v == "":
        return default
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ActionPlanError(f"journey actions: {what} must be a number, got {v!r}") from None


def _effect(entry: Mapping[str, Any], name: str) -> dict[str, Any]:
    eff = entry.get("effect") or {}
    if not isinstance(eff, Mapping):
        raise ActionPlanError(
            f"journey action {name}: effect must be a mapping with kind, low, high"
        )
    kind = _text(eff.get("kind"))
    if kind is None:
        return {"kind": None}
    if kind not in EFFECT_KINDS:
        raise ActionPlanError(
            f"journey action {name}: effect kind {kind!r} is not one of {', '.join(EFFECT_KINDS)}"
        )
    low = _number(eff.get("low"), f"{name} effect low")
    high = _number(eff.get("high", eff.get("low")), f"{name} effect high")
    if np.isnan(low) or np.isnan(high):
        raise ActionPlanError(f"journey action {name}: the effect needs low and high")
    out = {
        "kind": kind,
        "effect_low": min(low, high),
        "effect_high": max(low, high),
        "value_low": _number(eff.get("value_low"), f"{name} value_low", 0.0),
        "value_high": _number(
            eff.get("value_high", eff.get("value_low")), f"{name} value_high", 0.0
        ),
        "pain": _text(eff.get("pain")),
        "source": _text(eff.get("source")),
        "target": _text(eff.get("target")),
    }
    if kind == "transition" and entry.get("stage") not in STAGES[:4]:
        raise ActionPlanError(
            f"journey action {name}: a transition acts on a pre-purchase stage "
            f"({', '.join(STAGES[:4])}), not {entry.get('stage')!r}"
        )
    if kind == "spend_shift" and not (out["source"] and out["target"]):
        raise ActionPlanError(
            f"journey action {name}: a spend shift needs source and target channels"
        )
    return out


def _row(entry: Mapping[str, Any], i: int) -> dict[str, Any]:
    stage = entry.get("stage")
    if stage not in STAGES:
        raise ActionPlanError(
            f"journey action {i}: unknown stage {stage!r}; use one of {', '.join(STAGES)}"
        )
    name = _text(entry.get("id")) or f"{stage}_{i}"
    row = {"id": name, "stage": stage, "cost": _number(entry.get("cost"), f"{name} cost", 0.0)}
    for c in ("touchpoint", "action", "owner", "due", "category", "product", "test"):
        row[c] = _text(entry.get(c))
    return row | _effect(entry, name)


def _tree(spec: Any, known: set[str], where: str) -> ActionTree:
    if isinstance(spec, str):
        spec = {"root": spec}
    if not isinstance(spec, Mapping) or not _text(spec.get("root")):
        raise ActionPlanError(f"action tree {where}: each node needs a root action id")
    root = str(spec["root"]).strip()
    if root not in known:
        raise ActionPlanError(
            f"action tree {where}: unknown action {root!r} (ids: {', '.join(sorted(known))})"
        )
    then = tuple(_tree(c, known, where) for c in (spec.get("then") or ()))
    return ActionTree(_text(spec.get("name")) or root, root, then)


def action_plan(spec: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> ActionPlan:
    """Parse and check the action file (already read from YAML).

    Parameters
    ----------
    spec : a mapping with ``actions`` (and optionally ``trees``, ``cost_per_prospect``), or the
        list of actions itself, or None (no actions).

    Raises
    ------
    ActionPlanError : an entry with an unknown stage or effect kind, a missing effect range, a
        duplicate id, or a tree naming an unknown action.
    """
    spec = {} if spec is None else spec
    entries = spec.get("actions", []) if isinstance(spec, Mapping) else list(spec)
    rows = [_row(e, i) for i, e in enumerate(entries or [], start=1)]
    df = pd.DataFrame(rows, columns=ACTION_COLUMNS)
    dup = df["id"][df["id"].duplicated()].tolist()
    if dup:
        raise ActionPlanError(f"journey actions: duplicate ids {dup}")
    df = df.astype(
        {
            c: object
            for c in ACTION_COLUMNS
            if c not in ("effect_low", "effect_high", "value_low", "value_high", "cost")
        }
    )
    df = df.where(df.notna(), None)
    for c in ("effect_low", "effect_high", "value_low", "value_high", "cost"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["cost"] = df["cost"].fillna(0.0)
    known = set(df["id"])
    raw = spec.get("trees", []) if isinstance(spec, Mapping) else []
    trees = tuple(_tree(t, known, str(i)) for i, t in enumerate(raw or [], start=1))
    costs = dict(spec.get("cost_per_prospect") or {}) if isinstance(spec, Mapping) else {}
    return ActionPlan(df, trees, {str(k): float(v) for k, v in costs.items()})
