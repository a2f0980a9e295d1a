"""telesales-lab: a Jupyter workbench for telephone-sales teams."""

__version__ = "0.1.0"
