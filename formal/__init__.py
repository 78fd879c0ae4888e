"""Formal proofs of delaycore blocks (SymbiYosys and Boolector, both from PyPI).

- :mod:`formal.neuron`: the neuron unit's saturating arithmetic never wraps;
- :mod:`formal.host_link`: the host link against a reference parser of the protocol;
- :mod:`formal.sequencer`: the core's sequencer stays in range and visits every synapse
  exactly once per step;
- :mod:`formal.introspect`: FSM states and registers of an elaborated design, for harnesses;
- :mod:`formal.tools`: finding the tools and running SymbiYosys;
- :mod:`formal.prove`: the command line, ``python -m formal.prove``.

``docs/verification.md`` describes what each proof assumes and asserts.
"""
