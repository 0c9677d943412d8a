"""A simulated Windows host for testing this collection without Windows. See ../README.md."""
