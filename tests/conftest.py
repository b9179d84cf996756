"""Fixtures shared by every test directory."""

pytest_plugins = ["tests.ray_cluster"]  # ray_address: one local Ray instance per session, started on demand
