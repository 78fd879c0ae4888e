"""Networks to and from NIR, the Neuromorphic Intermediate Representation.

NIR (the ``nir`` package) describes spiking networks as graphs of continuous-time nodes so
that they can move between simulators and hardware. :func:`export_nir` writes a delaycore
:class:`~golden.network.Network` as such a graph, :func:`import_nir` reads one back and
quantises it to delaycore's integer formats. ``python -m golden.nir`` does both on files.

Graph layout
------------
::

    input --[Delay]--> Linear --> hidden (LIF) --[Delay]--> Linear --> readout (LI) --> output
                                    ^   |
                                    +---+  [Delay] --> Linear    (recurrent projection)

- Weights are the *effective* weights ``w >> weight_frac`` in units of one weight LSB, as
  float. The membrane, the threshold and the readout are in the same units.
- Hidden neurons are ``nir.LIF`` with ``v_leak = 0`` and ``v_reset = 0``; readouts are
  ``nir.LI`` (a leaky integrator: delaycore readouts never spike, which ``LI`` says directly,
  where a LIF with an infinite threshold would need every reader to special-case it).
- Leaks use the forward-Euler reading of NIR's ``tau dv/dt = (v_leak - v) + r I`` with
  the time step ``dt``, the convention of the snnTorch and Norse NIR converters:
  ``v[t] = (1 - dt/tau) v[t-1] + (r dt/tau) I[t]``. A decay factor ``a = alpha / 2^A``
  becomes ``tau = dt / (1 - a)`` and ``r = tau / dt``, so the synaptic sum enters
  unscaled, as in delaycore; ``alpha = 0`` is ``tau = dt``.
- NIR's LIF fires when ``v > v_threshold``; delaycore fires when ``v >= theta``. For
  integer membranes these agree with ``v_threshold = theta - 1/2``, which is what is
  written. On import, ``theta = floor(v_threshold * scale) + 1``, the smallest integer
  membrane strictly above the threshold.
- Delays are ``nir.Delay`` nodes (``y(t) = x(t - delay)``, in seconds: integer delay times
  ``dt``), which NIR defines per element of their input:

  - ``axonal``: one ``Delay`` over the sources before the ``Linear``;
  - ``synaptic``: one branch per distinct delay ``k``: ``Delay`` (all ``k dt``) then a
    ``Linear`` holding the weights of the synapses with that delay, zero elsewhere; NIR
    sums the branches arriving at a node;
  - ``none``: no ``Delay`` node.

- The recurrent projection is an edge from the hidden node back to itself. Discrete-time
  simulators read it one step late, which is delaycore's recurrent delay 0; a recurrent
  ``Delay`` of ``k dt`` is recurrent delay ``k``.
- NIR 1.0 has no subtractive reset and no fixed-point formats. They travel in the graph's
  metadata (key ``"delaycore"``, a JSON string with the reset mode, number formats, delay
  kinds and ``dt``). Other tools ignore it and see a reset to 0; :func:`import_nir` uses it
  so that a delaycore graph comes back unchanged.

What is not exported: the fraction bits of weights and delays (learning accumulators, not
used by inference: ``import_nir`` sets them to 0) and the learning rule. A synapse with
weight 0 in a ``synaptic`` projection has no branch to carry its delay and comes back with
delay 0. Everything inference uses survives the round trip.

Import
------
:func:`import_nir` accepts a graph with one ``Input``, one hidden population (``LIF``, or
``CubaLIF`` with ``tau_syn = dt``), one readout population (``LI``, ``CubaLI`` with
``tau_syn = dt``, or a ``LIF`` whose thresholds are all infinite) and, between them, paths
made of ``Linear``/``Affine`` (zero bias), ``Delay`` and ``Scale`` nodes. Subgraphs are
flattened. Any other node is an error naming the node and its type. Quantisation:

1. input gains ``r dt / tau`` (and ``w_in`` of ``Cuba`` nodes) are folded into the weights
   of the paths arriving at a population;
2. each population gets one scale: the hidden layer's input and recurrent weights share
   it (they add into one membrane) and so does the threshold, the readout's weights have
   their own. By default the scale maps the largest weight magnitude to the largest
   effective weight ``(2^(weight_bits-1) - 1) >> weight_frac``; graphs exported by
   delaycore keep scale 1. Weights are rounded to the nearest integer;
3. delays are rounded to the nearest multiple of ``dt``; a synapse reached by several
   paths takes the delay of the paths where its weight is nonzero, which must agree;
4. decay factors are ``round(2^A (1 - dt/tau))``, capped at ``2^A - 1`` (the slowest leak
   there is);
5. delay kinds are ``none`` when every delay is 0, ``axonal`` when every source's synapses
   share one delay, ``synaptic`` otherwise (the metadata's kinds win when they can hold
   the delays).

Values that do not fit (threshold above ``v_bits``, delay beyond ``d_max - 1``, ``tau``
below ``dt``, nonzero ``v_leak``/``v_reset``/bias) are errors naming the node.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from .network import Network, NetworkError, ring_size

__all__ = ["DEFAULT_DT", "METADATA_KEY", "NIRError", "export_nir", "import_nir",
           "read_nir", "write_nir"]

#: Time step in seconds when none is given (also what delaycore exports with).
DEFAULT_DT = 1e-3
#: Graph metadata entry with the delaycore-specific fields.
METADATA_KEY = "delaycore"
_METADATA_VERSION = 1
_FORMATS = ("weight_bits", "weight_frac", "delay_frac", "d_max", "decay_bits", "v_bits",
            "y_bits")
_DEFAULT_FORMATS = {"weight_bits": 8, "weight_frac": 0, "delay_frac": 0, "decay_bits": 8,
                    "v_bits": 16, "y_bits": 16}


class NIRError(ValueError):
    """A NIR graph cannot be mapped to a delaycore network; the message names the node."""


# -- export -------------------------------------------------------------------------------


def _leak_parameters(decay: np.ndarray, decay_bits: int, dt: float) -> tuple[np.ndarray, ...]:
    """``tau`` and ``r`` of decay factors ``decay`` (forward Euler, unit input gain)."""
    a = np.asarray(decay, dtype=np.float64) / float(1 << decay_bits)
    tau = dt / (1.0 - a)
    return tau, tau / dt


def export_nir(net: Network, *, dt: float = DEFAULT_DT):
    """A NIR graph computing what ``net`` computes (see the module description).

    Parameters
    ----------
    net : Network
        The network; its learning rule and fraction bits are not exported.
    dt : float
        Seconds per time step: the unit of ``tau`` and of the delays.

    Returns
    -------
    nir.NIRGraph
        Nodes ``input``, ``hidden`` (LIF), ``readout`` (LI), ``output`` and, per projection
        ``p``, ``w_p`` / ``d_p`` (none, axonal) or ``w_p_d<k>`` / ``d_p_d<k>`` (synaptic).
    """
    import nir

    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt}")
    if net.options():
        # The export writes LIF nodes and dense weights; it would drop the option silently.
        raise ValueError(f"network {net.options()[0]} cannot be exported to NIR (plain LIF "
                         f"networks with dense recurrent weights only)")
    tau_h, r_h = _leak_parameters(net.alpha, net.decay_bits, dt)
    tau_o, r_o = _leak_parameters(net.kappa, net.decay_bits, dt)
    nodes: dict[str, Any] = {
        "input": nir.Input(input_type={"input": np.array([net.n_in])}),
        "hidden": nir.LIF(tau=tau_h, r=r_h, v_leak=np.zeros(net.n_hidden),
                          v_threshold=net.theta.astype(np.float64) - 0.5,
                          v_reset=np.zeros(net.n_hidden)),
        "readout": nir.LI(tau=tau_o, r=r_o, v_leak=np.zeros(net.n_out)),
        "output": nir.Output(output_type={"output": np.array([net.n_out])}),
    }
    edges: list[tuple[str, str]] = [("readout", "output")]
    ends = {"in": ("input", "hidden"), "rec": ("hidden", "hidden"), "out": ("hidden", "readout")}
    for proj in net.projections():
        source, target = ends[proj]
        weights = net.effective_weights(proj).astype(np.float64)
        kind = net.delay_kind(proj)
        pre = net.projection_shape(proj)[1]
        if kind in ("none", "axonal"):
            nodes[f"w_{proj}"] = nir.Linear(weight=weights)
            if kind == "axonal":
                delays = getattr(net, f"d_{proj}") >> net.delay_frac
                nodes[f"d_{proj}"] = nir.Delay(delay=delays.astype(np.float64) * dt)
                edges += [(source, f"d_{proj}"), (f"d_{proj}", f"w_{proj}")]
            else:
                edges.append((source, f"w_{proj}"))
            edges.append((f"w_{proj}", target))
            continue
        delays = net.integer_delays(proj)
        for k in np.unique(delays).tolist():
            linear = f"w_{proj}_d{k}"
            nodes[linear] = nir.Linear(weight=np.where(delays == k, weights, 0.0))
            if k == 0:
                edges.append((source, linear))
            else:
                nodes[f"d_{proj}_d{k}"] = nir.Delay(delay=np.full(pre, k * dt))
                edges += [(source, f"d_{proj}_d{k}"), (f"d_{proj}_d{k}", linear)]
            edges.append((linear, target))
    metadata = {
        "version": _METADATA_VERSION, "dt": dt, "reset": net.reset, "scale": 1.0,
        **{name: getattr(net, name) for name in _FORMATS},
        **{f"delay_{p}": net.delay_kind(p) for p in ("in", "rec", "out")},
    }
    return nir.NIRGraph(nodes=nodes, edges=edges,
                        metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True)})


# -- import: graph structure --------------------------------------------------------------


def _type(node) -> str:
    return type(node).__name__


def _unsupported(name: str, node) -> str:
    return (f"node {name!r} of type {_type(node)} is not supported (delaycore maps Input, "
            f"Linear, Affine, Scale, Delay, LIF, CubaLIF, LI, CubaLI and Output)")


def _connection_types() -> tuple[type, ...]:
    import nir

    return (nir.Linear, nir.Affine, nir.Delay, nir.Scale)


def _flatten(graph, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]], set]:
    """Nodes and edges of ``graph`` with subgraphs inlined as ``sub.node``.

    Returns the nodes, the edges and the names of the inlined subgraphs' own ``Input`` and
    ``Output`` nodes, which pass their input through.
    """
    import nir

    nodes, edges, passthrough = {}, [], set()
    entry, exit_ = {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges, inner_pass = _flatten(node, full + ".")
            nodes.update(inner_nodes)
            edges += inner_edges
            passthrough |= inner_pass
            inputs = [n for n, v in node.nodes.items() if isinstance(v, nir.Input)]
            outputs = [n for n, v in node.nodes.items() if isinstance(v, nir.Output)]
            for inner in inputs + outputs:
                passthrough.add(f"{full}.{inner}")
            entry[full] = [f"{full}.{n}" for n in inputs]
            exit_[full] = [f"{full}.{n}" for n in outputs]
        else:
            nodes[full] = node
    for src, dst in graph.edges:
        src, dst = prefix + src, prefix + dst
        for a in exit_.get(src, [src]):
            for b in entry.get(dst, [dst]):
                edges.append((a, b))
    return nodes, edges, passthrough


@dataclasses.dataclass
class _Path:
    """Weights and delays of one chain of nodes from a population to a population."""

    source: str
    target: str
    names: list[str]
    weight: np.ndarray  # (post, pre), input gain not yet folded in
    delay: np.ndarray  # (post, pre) seconds


def _trace_path(names: list[str], nodes: dict, source: str, target: str, pre: int,
                post: int) -> _Path:
    """Combine the connection nodes of a path into one weight and one delay matrix."""
    import nir

    weight_node = None
    pre_delay, post_delay = np.zeros(pre), np.zeros(post)
    pre_scale, post_scale = np.ones(pre), np.ones(post)
    route = " -> ".join([source, *names, target])
    for name in names:
        node = nodes[name]
        if isinstance(node, (nir.Linear, nir.Affine)):
            if weight_node is not None:
                raise NIRError(f"path {route} has two weight nodes ({weight_node!r}, "
                               f"{name!r}): delaycore has one weight per synapse")
            weight = np.asarray(node.weight, dtype=np.float64)
            if weight.shape != (post, pre):
                raise NIRError(f"node {name!r} ({_type(node)}) has weight shape "
                               f"{weight.shape}, but the path {route} needs ({post}, {pre})")
            if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
                raise NIRError(f"node {name!r} (Affine) has a nonzero bias: delaycore neurons "
                               f"have no bias current")
            weight_node = name
            continue
        if isinstance(node, (nir.Delay, nir.Scale)):
            values = np.asarray(node.delay if isinstance(node, nir.Delay) else node.scale,
                                dtype=np.float64)
            size = post if weight_node is not None else pre
            if values.shape not in ((), (size,)):
                raise NIRError(f"node {name!r} ({_type(node)}) has shape {values.shape} but "
                               f"sits where the path {route} carries {size} values")
            if isinstance(node, nir.Delay):
                if weight_node is None:
                    pre_delay = pre_delay + values
                else:
                    post_delay = post_delay + values
            elif weight_node is None:
                pre_scale = pre_scale * values
            else:
                post_scale = post_scale * values
            continue
        # Inlined subgraph Input/Output nodes pass through.
    if weight_node is None:
        raise NIRError(f"path {route} has no weight node (Linear or Affine)")
    weight = np.asarray(nodes[weight_node].weight, dtype=np.float64)
    weight = weight * pre_scale[None, :] * post_scale[:, None]
    delay = pre_delay[None, :] + post_delay[:, None]
    return _Path(source, target, names, weight, delay)


def _paths(nodes: dict, edges: list, start: str, stops: set[str],
           passthrough: set[str]) -> list[tuple[list[str], str]]:
    """Every chain of connection nodes from ``start`` to a node in ``stops``."""
    connections = _connection_types()
    successors: dict[str, list[str]] = {}
    for src, dst in edges:
        successors.setdefault(src, []).append(dst)
    found = []

    def walk(name: str, trail: list[str]) -> None:
        for nxt in successors.get(name, []):
            if nxt in stops:
                found.append((trail, nxt))
                continue
            node = nodes[nxt]
            if nxt in passthrough or isinstance(node, connections):
                if nxt in trail:
                    raise NIRError(f"nodes {' -> '.join(trail + [nxt])} form a loop that "
                                   f"passes through no neuron")
                walk(nxt, trail + [nxt])
                continue
            raise NIRError(_unsupported(nxt, node))

    walk(start, [])
    return found


# -- import: neurons ----------------------------------------------------------------------


@dataclasses.dataclass
class _Population:
    name: str
    size: int
    tau: np.ndarray
    gain: np.ndarray  # input gain r dt / tau (times w_in of Cuba nodes)
    threshold: np.ndarray | None  # None for readouts


def _population(name: str, node, dt: float, readout: bool) -> _Population:
    import nir

    kind = _type(node)

    def field(key):
        return np.atleast_1d(np.asarray(getattr(node, key), dtype=np.float64))

    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        tau_syn = field("tau_syn")
        if not np.allclose(tau_syn, dt, rtol=1e-6, atol=0):
            raise NIRError(f"node {name!r} ({kind}) has tau_syn = {float(tau_syn.flat[0])!r} "
                           f"s, not dt = {dt!r} s: delaycore neurons have no synaptic current "
                           f"(only tau_syn = dt, a current equal to the input, maps exactly)")
        tau, extra_gain = field("tau_mem"), field("w_in")
    else:
        tau, extra_gain = field("tau"), np.ones(1)
    size = tau.size
    r, v_leak = field("r"), field("v_leak")
    if np.any(v_leak != 0):
        raise NIRError(f"node {name!r} ({kind}) has v_leak = {float(v_leak[v_leak != 0][0])!r}: "
                       f"delaycore membranes leak towards 0 (v_leak must be 0)")
    if np.any(~np.isfinite(tau)) or np.any(tau <= 0):
        raise NIRError(f"node {name!r} ({kind}) has tau values that are not positive and "
                       f"finite")
    if np.any(tau < dt * (1 - 1e-9)):
        raise NIRError(f"node {name!r} ({kind}) has tau = {float(tau.min())!r} s below "
                       f"dt = {dt!r} s: the decay factor 1 - dt/tau would be negative")
    gain = np.broadcast_to(r * dt / tau * extra_gain, (size,)).astype(np.float64)
    if np.any(~np.isfinite(gain)) or np.any(gain == 0):
        raise NIRError(f"node {name!r} ({kind}) has an input gain r*dt/tau that is 0 or not "
                       f"finite")
    threshold = None
    if hasattr(node, "v_threshold"):
        threshold = np.broadcast_to(field("v_threshold"), (size,)).astype(np.float64)
        reset = np.zeros(1) if getattr(node, "v_reset", None) is None else field("v_reset")
        if not readout and np.any(reset != 0):
            raise NIRError(f"node {name!r} ({kind}) has v_reset = "
                           f"{float(reset[reset != 0][0])!r}: delaycore resets to 0 (or "
                           f"subtracts the threshold)")
        if readout:
            threshold = None
    return _Population(name, size, tau, gain, threshold)


def _is_readout(node) -> bool:
    import nir

    if isinstance(node, (nir.LI, nir.CubaLI)):
        return True
    return isinstance(node, nir.LIF) and bool(np.all(np.isposinf(np.asarray(
        node.v_threshold, dtype=np.float64))))


def _decay(pop: _Population, dt: float, decay_bits: int) -> np.ndarray:
    top = (1 << decay_bits) - 1
    decay = np.rint((1.0 - dt / pop.tau) * (1 << decay_bits)).astype(np.int64)
    return np.clip(decay, 0, top)  # below 0 only within the tau >= dt tolerance


def _metadata(graph) -> dict[str, Any]:
    raw = (getattr(graph, "metadata", None) or {}).get(METADATA_KEY)
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        data = json.loads(str(raw))
    except json.JSONDecodeError:
        raise NIRError(f"graph metadata {METADATA_KEY!r} is not valid JSON") from None
    if not isinstance(data, dict):
        raise NIRError(f"graph metadata {METADATA_KEY!r} must be a JSON object")
    return data


# -- import -------------------------------------------------------------------------------


def import_nir(graph, *, dt: float | None = None, weight_bits: int | None = None,
               weight_frac: int | None = None, delay_frac: int | None = None,
               d_max: int | None = None, decay_bits: int | None = None,
               v_bits: int | None = None, y_bits: int | None = None,
               reset: str | None = None, scale: float | None = None) -> Network:
    """Map a NIR graph to a delaycore network, quantising it (see the module description).

    Parameters
    ----------
    graph : nir.NIRGraph
        The graph.
    dt : float, optional
        Seconds per time step (default: the graph's delaycore metadata, else 1 ms). Must be
        the step the graph's ``tau`` and delays were made for.
    weight_bits, weight_frac, delay_frac, decay_bits, v_bits, y_bits : int, optional
        Number formats (default: the metadata's, else the :class:`Network` defaults).
    d_max : int, optional
        Delay range (default: the metadata's, else the smallest power of two above the
        longest delay, at most 64).
    reset : {"soft", "hard"}, optional
        Reset mode (default: the metadata's, else ``"hard"``, NIR's reset to ``v_reset``).
    scale : float, optional
        Membrane units per graph unit for both populations. Default: the metadata's scale
        when the weight format is the metadata's, otherwise the largest scale that keeps
        every weight in range (one per population).

    Returns
    -------
    Network
        Without a learning rule.

    Raises
    ------
    NIRError
        A node is of a type delaycore cannot map, or a value does not fit the formats; the
        message names the node.
    """
    import nir

    connections = _connection_types()
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    hints = _metadata(graph)
    if dt is None:
        dt = float(hints.get("dt", DEFAULT_DT))
    if not (math.isfinite(dt) and dt > 0):
        raise NIRError(f"dt must be a positive number of seconds, got {dt}")
    given = {"weight_bits": weight_bits, "weight_frac": weight_frac, "delay_frac": delay_frac,
             "decay_bits": decay_bits, "v_bits": v_bits, "y_bits": y_bits}
    formats = {name: value if value is not None else int(hints.get(name, _DEFAULT_FORMATS[name]))
               for name, value in given.items()}
    if scale is None and hints and weight_bits in (None, hints.get("weight_bits")) \
            and weight_frac in (None, hints.get("weight_frac")):
        scale = hints.get("scale")
    reset = reset or hints.get("reset", "hard")

    nodes, edges, passthrough = _flatten(graph)
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input) and n not in passthrough]
    outputs = {n for n, v in nodes.items() if isinstance(v, nir.Output) and n not in passthrough}
    if len(inputs) != 1:
        raise NIRError(f"the graph has {len(inputs)} Input nodes ({', '.join(inputs) or 'none'})"
                       f": delaycore has one input population")
    input_name = inputs[0]
    shape = np.asarray(nodes[input_name].input_type["input"]).ravel()
    if shape.size != 1:
        raise NIRError(f"Input node {input_name!r} has shape {shape.tolist()}: delaycore inputs "
                       f"are one vector (flatten it first)")
    n_in = int(shape[0])

    neuron_types = (nir.LIF, nir.CubaLIF, nir.LI, nir.CubaLI)
    for name, node in nodes.items():
        if name not in passthrough and not isinstance(node, neuron_types + connections + (
                nir.Input, nir.Output)):
            raise NIRError(_unsupported(name, node))
    readouts = [n for n, v in nodes.items() if isinstance(v, neuron_types) and _is_readout(v)]
    hiddens = [n for n, v in nodes.items() if isinstance(v, (nir.LIF, nir.CubaLIF))
               and n not in readouts]
    readout_types = "LI, CubaLI or LIF with infinite thresholds"
    for role, found, want in (("hidden", hiddens, "LIF or CubaLIF"),
                              ("readout", readouts, readout_types)):
        if len(found) != 1:
            raise NIRError(f"the graph has {len(found)} {role} nodes ({want}): "
                           f"{', '.join(found) or 'none'}; delaycore has exactly one "
                           f"{role} population")
    hidden_name, readout_name = hiddens[0], readouts[0]
    hidden = _population(hidden_name, nodes[hidden_name], dt, readout=False)
    readout = _population(readout_name, nodes[readout_name], dt, readout=True)
    sizes = {input_name: n_in, hidden_name: hidden.size, readout_name: readout.size}
    stops = {input_name, hidden_name, readout_name} | outputs

    projections: dict[str, list[_Path]] = {"in": [], "rec": [], "out": []}
    role = {(input_name, hidden_name): "in", (hidden_name, hidden_name): "rec",
            (hidden_name, readout_name): "out"}
    for start in (input_name, hidden_name, readout_name):
        for names, end in _paths(nodes, edges, start, stops, passthrough):
            if end in outputs:
                if names:
                    raise NIRError(f"path {' -> '.join([start, *names, end])} transforms an "
                                   f"output: delaycore outputs are the readout values")
                if start == input_name:
                    raise NIRError(f"Input {start!r} feeds Output {end!r} directly")
                continue  # readout (or hidden spikes, ignored) as a graph output
            proj = role.get((start, end))
            if proj is None:
                raise NIRError(f"path {' -> '.join([start, *names, end])} connects "
                               f"{start!r} to {end!r}; delaycore has input -> hidden, "
                               f"hidden -> hidden and hidden -> readout projections only")
            projections[proj].append(_trace_path(names, nodes, start, end, sizes[start],
                                                 sizes[end]))
    if not projections["in"]:
        raise NIRError(f"no path from Input {input_name!r} to the hidden node {hidden_name!r}")
    if not projections["out"]:
        raise NIRError(f"no path from the hidden node {hidden_name!r} to the readout "
                       f"{readout_name!r}")

    combined = {p: _combine(p, paths, dt) for p, paths in projections.items() if paths}
    max_effective = ((1 << (formats["weight_bits"] - 1)) - 1) >> formats["weight_frac"]
    if max_effective < 1:
        raise NIRError(f"weight_bits = {formats['weight_bits']} with weight_frac = "
                       f"{formats['weight_frac']} leaves no integer weight above 0")
    # Input gains fold into the rows (post neurons) of every projection into a population.
    gains = {"in": hidden.gain, "rec": hidden.gain, "out": readout.gain}
    folded = {p: w * gains[p][:, None] for p, (w, _) in combined.items()}

    def population_scale(projs: list[str]) -> float:
        if scale is not None:
            return float(scale)
        largest = max(float(np.abs(folded[p]).max(initial=0.0)) for p in projs)
        return max_effective / largest if largest > 0 else 1.0

    hidden_scale = population_scale([p for p in ("in", "rec") if p in folded])
    readout_scale = population_scale(["out"])
    w_lo, w_hi = -(1 << (formats["weight_bits"] - 1)), (1 << (formats["weight_bits"] - 1)) - 1
    stored = {}
    for proj, weights in folded.items():
        effective = np.rint(weights * (hidden_scale if proj != "out" else readout_scale))
        words = effective * (1 << formats["weight_frac"])
        bad = (words < w_lo) | (words > w_hi)
        if bad.any():
            post, pre = (int(i) for i in np.argwhere(bad)[0])
            names = ", ".join(map(repr, sorted({n for path in projections[proj]
                                                for n in path.names})))
            raise NIRError(f"weight [{post}, {pre}] of projection '{proj}' (nodes {names}) is "
                           f"{float(weights[post, pre])!r}, {int(effective[post, pre])} after "
                           f"scaling, outside the {formats['weight_bits']}-bit range "
                           f"(weight_frac {formats['weight_frac']})")
        stored[proj] = words.astype(np.int64)

    assert hidden.threshold is not None
    theta = np.floor(hidden.threshold * hidden_scale) + 1
    v_hi = (1 << (formats["v_bits"] - 1)) - 1
    bad = ~np.isfinite(theta) | (theta < 1) | (theta > v_hi)
    if bad.any():
        i = int(np.argmax(bad))
        raise NIRError(f"node {hidden_name!r} has v_threshold[{i}] = "
                       f"{float(hidden.threshold[i])!r}, theta {theta[i]} after scaling by "
                       f"{hidden_scale:g}, outside [1, {v_hi}] (v_bits {formats['v_bits']})")

    integer_delays = {p: steps for p, (_, steps) in combined.items()}
    longest = max(int(d.max(initial=0)) for d in integer_delays.values())
    if d_max is None:
        # 64 is the largest d_max there is: a longer delay is reported below, by node.
        d_max = int(hints["d_max"]) if "d_max" in hints else min(64, ring_size(longest + 1))
    for proj, steps in integer_delays.items():
        if steps.size and steps.max() > d_max - 1:
            post, pre = (int(i) for i in np.argwhere(steps == steps.max())[0])
            names = ", ".join(map(repr, sorted({n for path in projections[proj]
                                                for n in path.names
                                                if isinstance(nodes[n], nir.Delay)})))
            raise NIRError(f"delay [{post}, {pre}] of projection '{proj}' (nodes {names}) is "
                           f"{int(steps.max())} steps, beyond d_max - 1 = {d_max - 1}")

    fields: dict[str, Any] = {
        "n_in": n_in, "n_hidden": hidden.size, "n_out": readout.size,
        "w_in": stored["in"], "w_out": stored["out"],
        "alpha": _decay(hidden, dt, formats["decay_bits"]),
        "theta": theta.astype(np.int64),
        "kappa": _decay(readout, dt, formats["decay_bits"]),
        "recurrent": "rec" in stored, "reset": reset, "d_max": d_max, **formats,
    }
    if "rec" in stored:
        fields["w_rec"] = stored["rec"]
    for proj, steps in integer_delays.items():
        kind = _delay_kind(steps, hints.get(f"delay_{proj}"))
        fields[f"delay_{proj}"] = kind
        if kind == "synaptic":
            fields[f"d_{proj}"] = steps << formats["delay_frac"]
        elif kind == "axonal":
            fields[f"d_{proj}"] = steps[0] << formats["delay_frac"]
    try:
        return Network(**fields)
    except NetworkError as err:
        raise NIRError(str(err)) from None


def _combine(proj: str, paths: list[_Path], dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Sum the paths of a projection: weights, and integer delays per synapse."""
    weight = np.zeros_like(paths[0].weight)
    steps_of = []
    for path in paths:
        if np.any(~np.isfinite(path.delay)) or np.any(path.delay < 0):
            raise NIRError(f"path {' -> '.join([path.source, *path.names, path.target])} has "
                           f"a negative or non-finite delay")
        steps_of.append(np.rint(path.delay / dt).astype(np.int64))
        weight = weight + path.weight
    steps = np.zeros(weight.shape, dtype=np.int64)
    chosen = np.zeros(weight.shape, dtype=bool)
    for path, path_steps in zip(paths, steps_of):
        carries = path.weight != 0
        clash = carries & chosen & (steps != path_steps)
        if clash.any():
            post, pre = (int(i) for i in np.argwhere(clash)[0])
            raise NIRError(f"synapse [{post}, {pre}] of projection '{proj}' has weight on "
                           f"paths with different delays (through {', '.join(path.names)}): "
                           f"delaycore has one delay per synapse")
        steps = np.where(carries, path_steps, steps)
        chosen |= carries
    # A synapse without weight on any path keeps a delay all its paths agree on, else 0.
    agreed = np.all([s == steps_of[0] for s in steps_of], axis=0)
    steps = np.where(~chosen & agreed, steps_of[0], steps)
    return weight, steps


def _delay_kind(steps: np.ndarray, hint: str | None) -> str:
    """The cheapest delay kind that holds ``steps``, or ``hint`` when it holds them."""
    fits = {"none": not steps.any(), "axonal": bool(np.all(steps == steps[:1])),
            "synaptic": True}
    if fits.get(hint):
        return hint
    return next(kind for kind in ("none", "axonal", "synaptic") if fits[kind])


# -- files --------------------------------------------------------------------------------


def write_nir(net: Network, path, *, dt: float = DEFAULT_DT) -> None:
    """Export ``net`` to a ``.nir`` file (HDF5, :func:`nir.write`)."""
    import nir

    nir.write(path, export_nir(net, dt=dt))


def read_nir(path):
    """Read a ``.nir`` file; an unreadable file is a one-line :class:`NIRError`."""
    import nir

    try:
        return nir.read(path)
    except FileNotFoundError:
        raise NIRError(f"{path}: no such file") from None
    except (OSError, KeyError, ValueError, TypeError, AssertionError) as err:
        raise NIRError(f"{path}: not a readable NIR file ({type(err).__name__}: "
                       f"{str(err).splitlines()[0] if str(err) else 'no detail'})") from None
