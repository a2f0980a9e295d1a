"""The data layer: the data model, loading and validation, monthly sums, import, demo data.

Nothing here imports from :mod:`telesales_lab.analysis`, :mod:`telesales_lab.present` or the
report and CLI; they all build on this.
"""
