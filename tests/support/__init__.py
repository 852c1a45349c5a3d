"""Live test harness: real engines, Prometheus, Alertmanager and local HTTP stand-ins, started and stopped by tests."""
