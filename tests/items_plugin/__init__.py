"""A test-only plugin with one entity ("items"), used to test the entity framework without the contacts plugin."""
