"""Prometheus metrics: worker and producer instrumentation, the queue exporter, alert rules
and the dashboard, all derived from the one list of definitions in `metrics/definitions.py`.
"""
