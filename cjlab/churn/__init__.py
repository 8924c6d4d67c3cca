"""Churn and customer lifetime value.

Sub-modules
-----------
rfm        calibration/holdout RFM summary (one DuckDB query)
"""

from cjlab.churn.rfm import RFMError, rfm_summary

__all__ = ["RFMError", "rfm_summary"]
