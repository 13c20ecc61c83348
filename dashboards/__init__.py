"""Dashboards as code, generated Grafana JSON, Prometheus rules and provisioning."""
