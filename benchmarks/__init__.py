"""Speed benchmarks: one script per area, each printing a table and writing JSON.

Every speed is reported beside a baseline measured in the same process, so that the
ratio means something on a noisy machine. Run one with ``python -m benchmarks.NAME``
or ``python benchmarks/NAME.py``; ``make benchmarks`` runs them all.
"""
