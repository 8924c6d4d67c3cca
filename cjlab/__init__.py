"""cjlab — a Jupyter workbench for customer-journey analytics.

Sub-modules
-----------
cjlab.data      data contract, loading, validation, portable aggregations, demo company
cjlab.survey    NPS / CSAT / CES, re-weighting, drivers, comment themes
cjlab.ab        Bayesian A/B testing
cjlab.churn     churn labels, models, CLV (PyMC-Marketing)
cjlab.segments  RFM and behavioural segments
cjlab.journey   stages, funnels, paths, attribution, journey map
cjlab.plots     one figure style
cjlab.report    papermill runner, HTML export, KPI records, report display helpers
"""

__version__ = "0.1.0"
