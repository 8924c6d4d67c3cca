"""cjlab — a Jupyter workbench for customer-journey analytics.

The code flows one way (nothing imports upward; ``tests/test_architecture.py`` checks it)::

    data        contract, sources, mappings (raw export -> contract), validation, demo company
    features    the aggregation layer: raw tables -> one row per customer / path / stage / day
    results     KPI, Headline, Analysis base, NotApplicable (what analyses hand upwards)
    formatting  numbers, money, shares, dates for readers (one place)
    survey ab churn segments journey
                one subpackage per analysis: model files, analysis.py (analyse -> XAnalysis),
                plots.py
    plotting    one figure style
    notebook    display helpers and widgets: imported by notebooks (and the report) only
    report      parameters, plan, execution, HTML, records, portal; knows no statistics
    cli         the ``cjlab`` command
"""

__version__ = "0.1.0"
