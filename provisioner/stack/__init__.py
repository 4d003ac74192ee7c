"""The python_venv role's Python stack: profiles and the compatibility matrix, and their locks."""
