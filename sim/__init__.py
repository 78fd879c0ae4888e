"""HDL simulation of delaycore cores with cocotb, in Icarus Verilog and Verilator.

Modules:

- :mod:`sim.variants`: named core variants (keyword arguments of ``CoreParams``);
- :mod:`sim.build`: Verilog generation, one cached build per (variant, simulator) under
  ``sim_build/``, and :func:`~sim.build.run_cocotb` to run a cocotb module on a build;
- :mod:`sim.tb`: the cocotb testbench (:class:`~sim.tb.CoreTB`, bus driver, scoreboard);
- :mod:`sim.cases`: the random network configurations of the lockstep test;
- :mod:`sim.test_lockstep`, :mod:`sim.bench_steps`: cocotb test modules (they run inside
  the simulator; pytest runs them through ``tests/test_lockstep.py``, the benchmark through
  ``bench/sim_speed.py``).

Only :mod:`sim.tb` and the cocotb modules need a running simulator; the others are plain
Python.
"""
