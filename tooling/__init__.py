"""Tooling: what operators, developers and tests use around the platform.

`launcher.py` and `manage.py runplatform` (daphne and the worker cluster in one
command), `manage.py olpe_client` (follows a job from the command line), the
miniature test model (`tiny_model.py`, `manage.py build_tiny_model`) and the
synthetic demo map (`demo.py`, `manage.py seed_demo`). Nothing visitors reach
imports it, except that the demo map is also the evaluation map of `training`.
"""
