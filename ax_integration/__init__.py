"""Ax integration of bo-diffnag: everything that imports Ax lives in this package.

The core package ``bo_diffnag`` never imports Ax; generation strategies, Ax search-space conversions,
metrics/runners and storage registration built on it belong here.
"""
