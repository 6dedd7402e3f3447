"""Evaluation of trained predictors: one inference loop behind evaluate, predict, robustness and diagnostics."""
