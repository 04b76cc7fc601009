"""Fuzzing the payload handling of a target: properties, campaigns, reproducers.

docs/fuzzing.md describes the campaign (`make fuzz`), the reproducer format and
`python -m socket_harness.replay`.
"""
