"""Data: the contract, sources, validation, portable aggregations and the demo company.

Examples
--------
>>> from cjlab.data import open_source
>>> src = open_source("demo:n_customers=300,seed=1")
>>> tables = src.load("customers", "orders")
>>> "email" in tables["customers"].columns  # PII never leaves the source
False
"""

from cjlab.data.contract import CONTRACT, STAGES, TABLES
from cjlab.data.source import DataSource, DataSourceError, open_source
from cjlab.data.validate import DataValidationError, ValidationReport, validate_frames

__all__ = [
    "CONTRACT",
    "STAGES",
    "TABLES",
    "DataSource",
    "DataSourceError",
    "DataValidationError",
    "ValidationReport",
    "open_source",
    "validate_frames",
]
