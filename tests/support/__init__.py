"""Test-only helpers: evaluators and parsers that check what the program renders."""
