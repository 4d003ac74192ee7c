"""The input layer: everything decided before a host is contacted (validation, extra vars, foreign
variables, host selection, safety warnings, guards, dependency checks)."""
