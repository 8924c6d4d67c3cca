"""The cjlab data contract: five tidy tables sharing one customer key.

This module only *describes* the tables (DESIGN.md section 2). Checking data against the
description lives in :mod:`cjlab.data.validate`; reading it lives in :mod:`cjlab.data.source`.

Examples
--------
>>> from cjlab.data.contract import CONTRACT, STAGES
>>> CONTRACT["orders"].required
('order_id', 'customer_id', 'ts', 'amount')
>>> STAGES[0], STAGES[-1]
('awareness', 'cross_sell')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: The customer lifecycle ("infinite loop"), in order.
STAGES: tuple[str, ...] = (
    "awareness",
    "information",
    "comparison",
    "persuasion",
    "purchase",
    "logistics",
    "onboarding",
    "support",
    "loyalty",
    "upsell",
    "cross_sell",
)

RESPONDENT_TYPES: tuple[str, ...] = ("new", "existing", "leaving", "returning")
DEVICES: tuple[str, ...] = ("desktop", "mobile", "app", "offline")
TABLES: tuple[str, ...] = (
    "customers",
    "touchpoints",
    "orders",
    "survey_responses",
    "experiment_exposures",
)

Kind = Literal["id", "string", "number", "integer", "bool", "date", "timestamp", "label"]


@dataclass(frozen=True)
class Column:
    """One column of a contract table.

    Parameters
    ----------
    name : column name (lower_snake_case). A name ending in ``*`` is a prefix pattern
        (``rating_*`` matches every ``rating_<touchpoint>`` column).
    kind : logical type. ``integer`` means a number that must be whole (scores);
        ``label`` is free text or a date used as a label (survey waves).
    required : the column must be present and non-empty in every row.
    nullable : empty values allowed (only for optional columns).
    min, max : inclusive bounds for numbers.
    allowed : closed set of values for strings.
    unique : values must be unique within the table.
    pii : personal data, never printed into a report.
    """

    name: str
    kind: Kind
    required: bool = False
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    unique: bool = False
    pii: bool = False
    description: str = ""

    @property
    def is_pattern(self) -> bool:
        return self.name.endswith("*")

    def matches(self, column: str) -> bool:
        if self.is_pattern:
            return column.startswith(self.name[:-1]) and len(column) > len(self.name) - 1
        return column == self.name


@dataclass(frozen=True)
class TableSchema:
    """A contract table: its columns and the keys that tie it to ``customers``."""

    name: str
    columns: tuple[Column, ...]
    customer_key: str | None = "customer_id"
    time_column: str | None = None
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def pii(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.pii)

    def column_for(self, name: str) -> Column | None:
        """The contract column describing ``name`` (exact names win over patterns)."""
        for c in self.columns:
            if not c.is_pattern and c.matches(name):
                return c
        for c in self.columns:
            if c.is_pattern and c.matches(name):
                return c
        return None


C = Column
CONTRACT: dict[str, TableSchema] = {
    "customers": TableSchema(
        "customers",
        (
            C("customer_id", "id", required=True, unique=True),
            C("first_seen", "date", required=True),
            C("country", "string"),
            C("acquisition_channel", "string"),
            C("birth_date", "date"),
            C("marketing_opt_in", "bool"),
            C("cancelled_at", "date", description="contractual churn; empty = active"),
            C("email", "string", pii=True),
            C("name", "string", pii=True),
        ),
        customer_key=None,
        time_column="first_seen",
        description="one row per customer",
    ),
    "touchpoints": TableSchema(
        "touchpoints",
        (
            C("customer_id", "id", required=True),
            C("ts", "timestamp", required=True),
            C("channel", "string", required=True),
            C("touchpoint", "string", required=True),
            C("stage", "string", required=True, allowed=STAGES),
            C("device", "string", allowed=DEVICES),
            C("campaign", "string"),
        ),
        time_column="ts",
        description="one row per customer interaction",
    ),
    "orders": TableSchema(
        "orders",
        (
            C("order_id", "id", required=True, unique=True),
            C("customer_id", "id", required=True),
            C("ts", "timestamp", required=True),
            C("amount", "number", required=True, min=0),
            C("channel", "string"),
            C("product_category", "string"),
            C("discount", "number", min=0),
            C("promo", "bool"),
        ),
        time_column="ts",
        description="one row per order",
    ),
    "survey_responses": TableSchema(
        "survey_responses",
        (
            C("response_id", "id", required=True, unique=True),
            C("wave", "label", required=True),
            C("customer_id", "id"),
            C("respondent_type", "string", allowed=RESPONDENT_TYPES),
            C("nps", "integer", min=0, max=10),
            C("csat", "integer", min=1, max=5),
            C("ces", "integer", min=1, max=7,
              description="customer effort, CES 2.0 agreement scale: 7 = easiest (lowest effort)"),
            C("rating_*", "integer", min=1, max=5),
            C("comment", "string"),
        ),
        description="one row per survey response",
    ),
    "experiment_exposures": TableSchema(
        "experiment_exposures",
        (
            C("experiment", "string", required=True),
            C("variant", "string", required=True),
            C("unit_id", "id", required=True),
            C("exposed_at", "timestamp", required=True),
            C("converted", "integer", required=True, min=0, max=1),
            C("revenue", "number", min=0),
            C("segment", "string"),
            C("stage", "string", allowed=STAGES),
        ),
        customer_key=None,
        time_column="exposed_at",
        description="one row per unit exposed to an experiment variant",
    ),
}


def pii_columns(table: str) -> tuple[str, ...]:
    """Columns of ``table`` that hold personal data and must never reach a report."""
    return CONTRACT[table].pii
