"""Operator commands (`dataplatform`): render, check, diff, preflight, verify-storage."""
