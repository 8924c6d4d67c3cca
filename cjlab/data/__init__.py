"""Data: the contract, sources, validation, mappings from raw exports, the overview, the demo company.

Examples
--------
>>> from cjlab.data import open_source
>>> src = open_source("demo:n_customers=300,seed=1")
>>> tables = src.load("customers", "orders")
>>> "email" in tables["customers"].columns  # PII never leaves the source
False
"""

from cjlab.data.contract import CONTRACT, STAGES, TABLES
from cjlab.data.errors import DataSourceError, MappingError
from cjlab.data.mapping import ImportReport, import_mapping
from cjlab.data.plausible import Bounds
from cjlab.data.source import DataSource, open_source
from cjlab.data.validate import DataValidationError, ValidationReport, validate_frames

__all__ = [
    "CONTRACT",
    "STAGES",
    "TABLES",
    "Bounds",
    "DataSource",
    "DataSourceError",
    "DataValidationError",
    "ImportReport",
    "MappingError",
    "ValidationReport",
    "import_mapping",
    "open_source",
    "validate_frames",
]
