"""Import paths of crowdsim before 0.4 that saved files may name, kept for this release only.

The experiment layer now lives in :mod:`crowdsim.sweeps` (jobs, sweep folders, the grid runner,
the callback, aggregation), :mod:`crowdsim.studies` (compare, calibrate, validate, sensitivity)
and :mod:`crowdsim.report`.
"""
