"""autoharness."""
