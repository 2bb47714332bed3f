"""ci-deploy-gate: fire a CircleCI deploy job only when a reviewed rule says so.

Kept empty of imports: every run, including the node-1 skip, imports this file.
"""

__version__ = "0.1.0"
