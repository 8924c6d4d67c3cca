"""The journey plan: pain points with priorities, a journey simulator for what-if questions,
action trees, the final plan and the next review.

Where things live
-----------------
================  ===================================================================
``analysis``      :func:`analyse` (tables -> :class:`PlanAnalysis`) and :func:`from_source`
``results``       :class:`PlanAnalysis` (headline and KPIs)
``painpoints``    :class:`PainPoints`: themes per touchpoint and stage, priority with intervals
``swot``          :func:`swot`: strengths / weaknesses / opportunities / threats per stage
``journeys``      :class:`JourneyData`, :func:`journey_data`, :func:`cohort` (the next year)
``value``         :class:`ValueCurve`: what a new buyer brings within ``h`` days
``interventions`` :class:`Transition`, :class:`SpendShift`, :class:`ValueChange`, :class:`PainRelief`
``simulator``     :class:`JourneySimulator` and its :class:`WhatIf` draws
``actions``       :func:`action_plan`: the action file with targets, effects, costs and trees
``decisions``     :func:`evaluate_actions`, :func:`evaluate_trees`, :func:`value_of_testing`,
                  :func:`sample_size`
``journey_plan``  :func:`final_plan`, :func:`tests_table`, :func:`next_review`, :func:`plan_markdown`
``steps``         the steps :func:`analyse` chains
``tables``, ``plots``  the report's tables and figures
================  ===================================================================

The aggregations of raw rows are :func:`cjlab.features.plan.journey_states` and
:func:`cjlab.features.plan.value_by_period` (portable); the demo company can be regenerated
with an intervention applied (:mod:`cjlab.data.synth_journey`), which is how the simulator is
validated.
"""

from cjlab.plan.actions import ActionPlan, ActionPlanError, ActionTree, action_plan
from cjlab.plan.analysis import PlanOptions, analyse, from_source, read_action_file
from cjlab.plan.decisions import (
    evaluate_actions,
    evaluate_trees,
    sample_size,
    value_of_testing,
)
from cjlab.plan.interventions import PainRelief, SpendShift, Transition, ValueChange
from cjlab.plan.journey_plan import final_plan, next_review, plan_markdown, tests_table
from cjlab.plan.journeys import JourneyData, cohort, journey_data
from cjlab.plan.painpoints import PainPoints
from cjlab.plan.results import PlanAnalysis
from cjlab.plan.simulator import JourneySimulator, WhatIf
from cjlab.plan.swot import swot
from cjlab.plan.value import ValueCurve

__all__ = [
    "ActionPlan",
    "ActionPlanError",
    "ActionTree",
    "JourneyData",
    "JourneySimulator",
    "PainPoints",
    "PainRelief",
    "PlanAnalysis",
    "PlanOptions",
    "SpendShift",
    "Transition",
    "ValueChange",
    "ValueCurve",
    "WhatIf",
    "action_plan",
    "analyse",
    "cohort",
    "evaluate_actions",
    "evaluate_trees",
    "final_plan",
    "from_source",
    "journey_data",
    "next_review",
    "plan_markdown",
    "read_action_file",
    "sample_size",
    "swot",
    "tests_table",
    "value_of_testing",
]
