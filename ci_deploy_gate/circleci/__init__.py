"""The CircleCI client: build a trigger, fire it exactly once, follow it to its end.

Empty on purpose: `rules` imports `host` and `versions` on every run, so the package itself
must cost nothing. `model` is the bottom layer; `versions` is the one table of API versions.
"""
