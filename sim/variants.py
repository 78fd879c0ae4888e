"""Core variants that the lockstep tests and the benchmarks build.

A variant is a name plus the keyword arguments of :class:`rtl.params.CoreParams`. Keeping
variants as plain keyword dictionaries (rather than ``CoreParams`` objects) lets them travel
to the simulator process as JSON and be rebuilt there without pickling.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CORE_VARIANTS", "CoreVariant", "get_variant"]


@dataclasses.dataclass(frozen=True)
class CoreVariant:
    """A named set of core generator parameters.

    Parameters
    ----------
    name : str
        Short identifier; used in build directory names and test ids.
    params : Mapping[str, Any]
        Keyword arguments of :class:`rtl.params.CoreParams`.
    """

    name: str
    params: Mapping[str, Any]

    def core_params(self):
        """Make the :class:`rtl.params.CoreParams` of this variant (imports ``rtl``)."""
        from rtl.params import CoreParams

        return CoreParams(**dict(self.params))

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "params": dict(self.params)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CoreVariant:
        data = json.loads(text)
        return cls(name=data["name"], params=data["params"])

    @property
    def digest(self) -> str:
        """Short hash of the parameters, so two variants with one name never share a build."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:10]

    @property
    def uses_spram(self) -> bool:
        """The core has ``SB_SPRAM256KA`` blocks: synapse memory or trace rings in SPRAM."""
        traces = self.params.get("learning") and self.params.get("trace_memory") == "spram"
        return self.params.get("synapse_memory") == "spram" or bool(traces)

    def fmt(self, key: str, default: int) -> int:
        """A number-format parameter, falling back to the ``CoreParams`` default."""
        return int(self.params.get(key, default))


#: Variant A: default number formats, recurrent, a capacity that a step walks in a few
#: hundred clocks. Variant B: narrow membrane and readout with fraction bits in weights and
#: delays, so saturation and fraction handling are exercised, and the largest ring (d_max 64).
#: Variant S: B with its synapse words (18 bits: two blocks side by side) in iCE40 SPRAM,
#: simulated with the ``SB_SPRAM256KA`` instances of a board build and Yosys' model of them.
#: Variant N: a small recurrent core with the neuron options (current synapses, adaptive
#: threshold), narrow membrane and fraction bits so that the current, the adaptation and the
#: raised threshold saturate; six hidden neurons leave holes in its NEURON region.
#: Variant K: a recurrent core whose recurrent weights are a kernel of five shared taps
#: (``rec_kernel_taps``), seven hidden neurons so that bands are clipped at both ends.
CORE_VARIANTS: dict[str, CoreVariant] = {
    "A": CoreVariant("A", {
        "max_in": 12, "max_hidden": 10, "max_out": 4, "d_max": 32,
        "weight_bits": 8, "weight_frac": 0, "delay_frac": 0, "decay_bits": 8,
        "v_bits": 16, "y_bits": 16, "recurrent": True,
    }),
    "B": CoreVariant("B", {
        "max_in": 10, "max_hidden": 8, "max_out": 4, "d_max": 64,
        "weight_bits": 10, "weight_frac": 2, "delay_frac": 2, "decay_bits": 12,
        "v_bits": 10, "y_bits": 12, "recurrent": True,
    }),
    "S": CoreVariant("S", {
        "max_in": 10, "max_hidden": 8, "max_out": 4, "d_max": 64,
        "weight_bits": 10, "weight_frac": 2, "delay_frac": 2, "decay_bits": 12,
        "v_bits": 10, "y_bits": 12, "recurrent": True, "synapse_memory": "spram",
    }),
    "N": CoreVariant("N", {
        "max_in": 8, "max_hidden": 6, "max_out": 3, "d_max": 16,
        "weight_bits": 8, "weight_frac": 1, "delay_frac": 1, "decay_bits": 10,
        "v_bits": 10, "y_bits": 12, "recurrent": True,
        "synapse_current": True, "adaptation": True,
    }),
    "K": CoreVariant("K", {
        "max_in": 8, "max_hidden": 7, "max_out": 3, "d_max": 16,
        "weight_bits": 8, "weight_frac": 1, "delay_frac": 1, "decay_bits": 8,
        "v_bits": 12, "y_bits": 14, "recurrent": True, "rec_kernel_taps": 5,
    }),
}


def get_variant(name: str) -> CoreVariant:
    """Look up a variant of :data:`CORE_VARIANTS` by name, with a helpful error."""
    try:
        return CORE_VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown core variant {name!r}; known: "
                       f"{', '.join(sorted(CORE_VARIANTS))}") from None
