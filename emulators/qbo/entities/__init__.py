"""One module per QBO entity: validation, defaults, effects and response shape.

`registry.py` maps entity names and URL segments to their handlers.
"""
