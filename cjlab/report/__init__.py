"""Running notebooks into reports, and what a report shows (see :mod:`cjlab.notebook`)."""
