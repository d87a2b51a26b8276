"""Shared pytest configuration of the tracestream test suite."""

pytest_plugins = ["tests.kafka_fixture"]
