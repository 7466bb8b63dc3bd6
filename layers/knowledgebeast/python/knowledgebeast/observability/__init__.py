"""Metrics, logging and tracing; one set of metric names for Prometheus and Lambda EMF."""
