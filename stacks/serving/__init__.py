"""The serving stack's parts: one construct per serving mode (modes/), and the pieces every mode shares.

stacks/serving_stack.py composes them; docs/serving-modes.md says what each mode creates and its limits.
"""
