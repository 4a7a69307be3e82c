"""Studies: many simulations to one answer (compare scenarios, calibrate, validate, sensitivity, scenario discovery), each through the sweeps ' grid runner."""
