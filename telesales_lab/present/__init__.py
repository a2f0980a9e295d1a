"""Presentation: charts, tables for people, the coaching page and the Excel workbook.

It formats what :mod:`telesales_lab.analysis` computes; the report and the CLI build on it.
"""
