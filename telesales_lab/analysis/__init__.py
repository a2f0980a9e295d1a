"""The analyses: tidy frames of raw numbers computed from a loaded data set.

Each module is one family of analysis. They import from :mod:`telesales_lab.data` and from
each other without cycles, never from :mod:`telesales_lab.present`, the report or the CLI.
"""
