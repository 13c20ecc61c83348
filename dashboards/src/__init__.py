"""Grafana dashboards as code (grafana-foundation-sdk): one module per dashboard, defaults in `panels`."""
