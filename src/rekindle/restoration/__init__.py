"""Running restorations: the worker side (runner, sweep) and seed 003's `/restoration` surface."""
