"""Campaign analytics: whom to target, what to offer, when to send, which triggers work.

Where things live
-----------------
=====================  ====================================================================
``analysis``           :func:`analyse` (tables -> :class:`CampaignAnalysis`, with headline and
                       KPIs) and :func:`from_source`
``inputs``             the campaign frame: experiment, control, pre-campaign features
``incrementality``     incremental conversion and revenue per segment (Bayesian intervals)
``uplift``             uplift meta-learners: :class:`TLearner`, :class:`XLearner`,
                       :class:`ClassTransformation`
``evaluation``         Qini and uplift curves, Qini coefficient, AUUC, bootstrap intervals
``targeting``          models fitted and compared on a hold-out; profit, response and churn
                       targeting policies
``recommenders``       next-best-offer rankers: :class:`Popularity`, :class:`AssociationRules`,
                       :class:`ItemItem`
``offers``             time-split evaluation (hit rate, recall, MAP at k)
``sendtime``           :class:`SendTimeModel` (empirical Bayes) and its held-out evaluation
``triggers``           event study around yearly triggers; repurchase after inactivity
``exports``            consent-respecting CRM lists written as separate files
``tables``, ``plots``  what the report shows
=====================  ====================================================================

Every aggregation of raw rows runs in :mod:`cjlab.features` (``cjlab.features.campaigns``);
the models fit the small aggregated tables in pandas.
"""

from cjlab.campaigns.analysis import CampaignAnalysis, CampaignOptions, analyse, from_source
from cjlab.campaigns.evaluation import qini_coefficient, qini_curve, uplift_auc, uplift_curve
from cjlab.campaigns.incrementality import incremental_effects
from cjlab.campaigns.offers import evaluate_offers
from cjlab.campaigns.recommenders import AssociationRules, ItemItem, Popularity
from cjlab.campaigns.sendtime import SendTimeModel, evaluate_send_time
from cjlab.campaigns.targeting import compare_policies, fit_uplift
from cjlab.campaigns.triggers import event_study, inactivity_repurchase
from cjlab.campaigns.uplift import ClassTransformation, TLearner, XLearner

__all__ = [
    "AssociationRules",
    "CampaignAnalysis",
    "CampaignOptions",
    "ClassTransformation",
    "ItemItem",
    "Popularity",
    "SendTimeModel",
    "TLearner",
    "XLearner",
    "analyse",
    "compare_policies",
    "evaluate_offers",
    "evaluate_send_time",
    "event_study",
    "fit_uplift",
    "from_source",
    "inactivity_repurchase",
    "incremental_effects",
    "qini_coefficient",
    "qini_curve",
    "uplift_auc",
    "uplift_curve",
]
