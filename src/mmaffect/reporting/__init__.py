"""Reporting: results tables (CSV, Markdown, JSON), plots, run and benchmark reports."""
