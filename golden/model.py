"""Golden model of the delaycore semantics (``docs/model.md``): inference and learning.

:class:`GoldenCore` advances a :class:`~golden.network.Network` one time step at a time,
vectorised over neurons, synapses and a batch of independent copies of the network (each copy
has its own weights and delays, so a batch can hold independent learners). The RTL is
compared against it every step, so it implements the formulas of ``docs/model.md`` literally.

Two arithmetic modes share the same code:

- ``exact=True`` (default): integer arithmetic, bit-exact with the RTL;
- ``exact=False``: the same rules in float64 (shifts become divisions by powers of two,
  rounding disappears, ranges and clamps stay), for algorithm work.

The opt-in neuron and connectivity options (synaptic currents, adaptive threshold,
recurrent kernel; ``docs/model.md`` sections 8-11) are golden-model only for now.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from .learning import mix32
from .network import Network

__all__ = ["StepResult", "GoldenCore", "run", "saturate", "synapse_addresses"]

# Stream numbers of the stochastic-rounding hash (docs/model.md, section 7.6).
STREAM_WEIGHT, STREAM_SYNAPTIC_DELAY, STREAM_AXONAL_DELAY = 0, 1, 2
# Shared parameters (recurrent kernel taps, neuron parameters) use stream 3 with the
# address ``group * 4096 + index`` (docs/model.md section 11.3).
STREAM_SHARED = 3
SHARED_GROUP = {"kernel": 0, "beta": 1, "coupling": 2, "rho": 3}
SHARED_GROUP_SIZE = 4096


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clamp ``x`` to the signed range of ``bits`` bits."""
    return np.clip(x, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def synapse_addresses(net: Network, proj: str) -> np.ndarray:
    """Flat synapse-memory index of every synapse of a projection, shape ``(post, pre)``.

    The layout is the one the RTL sequencer walks (``docs/architecture.md``); the learning
    rule's stochastic rounding is keyed by it.
    """
    n_rec = net.n_hidden if net.recurrent else 0
    row = net.n_in + n_rec
    post, pre = net.projection_shape(proj)
    posts, pres = np.meshgrid(np.arange(post), np.arange(pre), indexing="ij")
    if proj == "in":
        return posts * row + pres
    if proj == "rec":
        return posts * row + net.n_in + pres
    return net.n_hidden * row + posts * net.n_hidden + pres


def _shared_addresses(group: str, count: int) -> np.ndarray:
    """Hash addresses of shared parameters: ``group * 4096 + index`` (stream 3)."""
    return SHARED_GROUP[group] * SHARED_GROUP_SIZE + np.arange(count)


def _axon_addresses(net: Network, proj: str) -> np.ndarray:
    """Source index keying an axonal delay's rounding: inputs, then rec, then out sources."""
    base = {"in": 0, "rec": net.n_in, "out": net.n_in + net.n_hidden}[proj]
    return base + np.arange(net.projection_shape(proj)[1])


@dataclasses.dataclass
class StepResult:
    """State after one step. Arrays have a leading batch axis unless the input had none."""

    v: np.ndarray  #: hidden membranes after reset ``[..., n_hidden]``
    z: np.ndarray  #: hidden spikes, bool ``[..., n_hidden]``
    y: np.ndarray  #: readout values ``[..., n_out]``
    vpre: np.ndarray  #: hidden membranes before reset ``[..., n_hidden]``


class _Projection:
    """Weights and stored delays of one projection, one copy per batch element."""

    def __init__(self, net: Network, proj: str, batch: int, dtype):
        self.name = proj
        self.kind = net.delay_kind(proj)
        post, pre = net.projection_shape(proj)
        self.pre_index = np.arange(pre)
        # A recurrent kernel is stored as its K taps ([batch, K]) and expanded to the dense
        # matrix where a sum needs it (docs/model.md section 10).
        self.w = np.repeat(net.weights(proj)[None].astype(dtype), batch, axis=0)
        self.band = net.kernel_band() if proj == "rec" and net.rec_kernel else None
        self.shape = (post, pre)
        stored = getattr(net, f"d_{proj}")
        self.d = None if stored is None else np.repeat(stored[None].astype(dtype), batch, axis=0)
        self.addresses = synapse_addresses(net, proj)
        self.axon_addresses = _axon_addresses(net, proj)
        # Recurrent spikes of this step are not visible yet: its delay 0 is the previous step.
        self.newest_offset = 1 if proj == "rec" else 0

    def dense(self) -> np.ndarray:
        """Weights as ``[batch, post, pre]`` (a kernel expanded, 0 outside its band)."""
        if self.band is None:
            return self.w
        post, pre, tap = self.band
        dense = np.zeros((self.w.shape[0],) + self.shape, dtype=self.w.dtype)
        dense[:, post, pre] = self.w[:, tap]
        return dense

    def tap_sums(self, terms: np.ndarray) -> np.ndarray:
        """Exact sum of per-synapse ``terms`` ``[batch, post, pre]`` over each tap's band."""
        post, pre, tap = self.band
        sums = np.zeros(self.w.shape, dtype=terms.dtype)
        np.add.at(sums, (slice(None), tap), terms[:, post, pre])
        return sums

    def integer_delays(self, delay_frac: int) -> np.ndarray:
        """Integer delays, ``[batch, post, pre]`` (synaptic) or ``[batch, pre]`` otherwise."""
        if self.d is None:
            return np.zeros((self.w.shape[0], len(self.pre_index)), dtype=np.int64)
        return np.floor_divide(self.d, 1 << delay_frac).astype(np.int64)

    def gather(self, ring: np.ndarray, newest: int, delays: np.ndarray) -> np.ndarray:
        """``ring[b, slot(newest - delay), pre]`` for every synapse, ``[batch, post, pre]``.

        Axonal and absent delays are per source, so the result broadcasts over ``post``.
        """
        slots = ring.shape[1]
        batch_index = np.arange(ring.shape[0])
        slot = (newest - delays) % slots
        if delays.ndim == 2:  # per source
            return ring[batch_index[:, None], slot, self.pre_index[None, :]][:, None, :]
        return ring[batch_index[:, None, None], slot, self.pre_index[None, None, :]]


class GoldenCore:
    """Golden model of one delaycore network.

    Parameters
    ----------
    net : Network
        The network. Its arrays are copied (one copy per batch element); the learned values
        are in :attr:`projections` and are written back by :meth:`export_network`.
    batch : int
        Number of independent copies advanced together.
    exact : bool
        Integer, bit-exact arithmetic (``True``) or the same rules in float64.

    Notes
    -----
    Besides :attr:`projections` (weights and delays; a recurrent kernel as its ``K`` taps),
    the learnable per-neuron parameters of the options are in :attr:`neurons` (``beta``,
    ``coupling``, ``rho``: ``[batch, n_hidden]``), and their state in :attr:`c`
    (synaptic current), :attr:`a` (adaptation) and :attr:`elig` (eligibilities).
    """

    def __init__(self, net: Network, batch: int = 1, *, exact: bool = True):
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        self.net = net
        self.batch = batch
        self.exact = exact
        self.dtype = np.int64 if exact else np.float64
        self.rule = net.learning
        half_width = self.rule.kernel_half_width if self.rule is not None else 0
        # One slot more than the deepest read: the recurrent projection reads d_max steps
        # back while the slot of the current step is still unwritten; the delay kernel reads
        # 2W+1 trace slots.
        self.slots = max(net.d_max, 2 * half_width + 1) + 1
        self.projections = {p: _Projection(net, p, batch, self.dtype) for p in net.projections()}
        # Per-neuron parameters of the options (beta, coupling, rho), [batch, n_hidden].
        self.neurons = {name: np.repeat(getattr(net, name)[None].astype(self.dtype), batch,
                                        axis=0)
                        for name in net.neuron_parameters()}
        # Counts learning steps per batch element; keys the stochastic rounding, so it is
        # not cleared between samples (docs/model.md 7.6).
        self.learn_count = np.zeros(batch, dtype=np.uint64)
        self.reset()

    # -- arithmetic shared by both modes ----------------------------------------------------

    def _shr(self, x, shift: int):
        """Arithmetic shift right (floor), or division in float mode."""
        return x >> shift if self.exact else x / float(1 << shift)

    def _round_shift(self, x, shift: int, keys):
        """``x >> shift`` with the rule's rounding (docs/model.md 7.6)."""
        if not self.exact:
            return x / float(1 << shift)
        if self.rule.rounding == "truncate":
            return np.sign(x) * (np.abs(x) >> shift)
        random_bits = (mix32(keys) & np.uint64((1 << shift) - 1)).astype(np.int64)
        return (x + random_bits) >> shift

    def _hash_keys(self, addresses: np.ndarray, stream: int) -> np.ndarray:
        """Hash keys ``[batch, ...addresses]`` of this learning step."""
        count = (self.learn_count.astype(np.uint64) << np.uint64(16)) & np.uint64(0xFFFF_FFFF)
        base = np.uint64(self.rule.seed) ^ count ^ np.uint64(stream << 30)
        shape = (self.batch,) + (1,) * addresses.ndim
        return base.reshape(shape) ^ addresses.astype(np.uint64)[None]

    def load_parameters(self, net: Network) -> None:
        """Go on with the parameters of ``net``, keeping all state (rings included).

        This is what the hardware does when new weights and delays are written between two
        steps: spikes in flight arrive with the weight and delay read at arrival
        (docs/model.md section 5). ``net`` must have the sizes, delay kinds and formats of
        the current network.
        """
        mine, theirs = self.net.to_dict(), net.to_dict()
        for field in ("n_in", "n_hidden", "n_out", "recurrent", "delay_in", "delay_rec",
                      "delay_out", "synapse", "adaptation", "rec_kernel", "d_max", "weight_bits", "weight_frac", "delay_frac",
                      "decay_bits", "v_bits", "y_bits"):
            if mine.get(field) != theirs.get(field):
                raise ValueError(f"load_parameters: {field} differs "
                                 f"({mine.get(field)!r} -> {theirs.get(field)!r})")
        replacement = GoldenCore(net, self.batch, exact=self.exact)
        if replacement.slots != self.slots:
            raise ValueError("load_parameters: the learning kernel width changes the ring size")
        self.net, self.rule, self.projections = net, net.learning, replacement.projections
        self.neurons = replacement.neurons

    # -- state --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Zero the state of a new sample: membranes, readouts, spike and trace rings.

        Learned parameters and the learning-step counter are kept.
        """
        net, b, s = self.net, self.batch, self.slots
        self.t = 0
        self.v = np.zeros((b, net.n_hidden), dtype=self.dtype)
        self.y = np.zeros((b, net.n_out), dtype=self.dtype)
        self.spikes_in = np.zeros((b, s, net.n_in), dtype=bool)
        self.spikes_hidden = np.zeros((b, s, net.n_hidden), dtype=bool)
        self.trace_in = np.zeros((b, s, net.n_in), dtype=self.dtype)
        self.trace_hidden = np.zeros((b, s, net.n_hidden), dtype=self.dtype)
        self.dtrace_in = np.zeros((b, s, net.n_in), dtype=self.dtype)
        self.dtrace_hidden = np.zeros((b, s, net.n_hidden), dtype=self.dtype)
        # Options (docs/model.md sections 8-11): synaptic current, adaptation, and the
        # eligibilities of the neuron parameters. Zero when an option is off.
        zeros = functools.partial(np.zeros, (b, net.n_hidden), dtype=self.dtype)
        self.c, self.a = zeros(), zeros()
        self.elig = {"beta_c": zeros(), "beta_v": zeros(), "coupling": zeros(),
                     "rho": zeros()}

    # -- one step ---------------------------------------------------------------------------

    def step(self, spikes, *, labels=None, learn=None) -> StepResult:
        """Advance one time step.

        Parameters
        ----------
        spikes : array, shape (n_in,) or (batch, n_in)
            Input spikes of this step.
        labels : int or array of int, shape (batch,), optional
            Class of each batch element's sample; required when learning.
        learn : bool or array of bool, shape (batch,), optional
            Whether this step is a learning step (the sample's target mask), per element.
        """
        net = self.net
        spikes = np.asarray(spikes)
        unbatched = spikes.ndim == 1
        if unbatched:
            spikes = spikes[None, :]
        if spikes.shape != (self.batch, net.n_in):
            raise ValueError(f"input spikes must have shape ({self.batch}, {net.n_in}) "
                             f"or ({net.n_in},), got {spikes.shape}")
        learn = np.broadcast_to(np.asarray(False if learn is None else learn, dtype=bool),
                                (self.batch,))
        if learn.any() and self.rule is None:
            raise ValueError("learning requested but the network has no 'learning' rule")
        slot = self.t % self.slots
        self.spikes_in[:, slot, :] = spikes != 0
        if self.rule is not None:
            self._update_traces(self.trace_in, self.dtrace_in, self.spikes_in[:, slot])

        # Old delays: learning in this step reads the same delays the forward pass used.
        delays = {p: proj.integer_delays(net.delay_frac) for p, proj in self.projections.items()}
        current = self._drive("in", self.spikes_in, delays["in"])
        if net.recurrent:
            current = current + self._drive("rec", self.spikes_hidden, delays["rec"])
        c_old, a_old = self.c, self.a
        if net.synapse == "current":
            self.c = saturate(self._shr(self.neurons["beta"] * c_old, net.decay_bits) + current,
                              net.v_bits)
            current = self.c
        vpre = saturate(self._shr(net.alpha * self.v, net.decay_bits) + current, net.v_bits)
        v_hi = (1 << (net.v_bits - 1)) - 1
        threshold = net.theta if net.adaptation == "none" else np.minimum(net.theta + a_old,
                                                                         v_hi)
        z = vpre >= threshold
        after_spike = vpre - threshold if net.reset == "soft" else np.zeros_like(vpre)
        self.v = np.where(z, after_spike, vpre)
        if net.adaptation == "threshold":
            self.a = np.minimum(self._shr(self.neurons["rho"] * a_old, net.decay_bits)
                                + self.neurons["coupling"] * z, v_hi)
        # Eligibilities of the threshold at this step: those of a[t-1] (section 11.1).
        elig_threshold = (self.elig["coupling"], self.elig["rho"])
        if self.rule is not None and self.rule.learn_neurons:
            self._update_eligibilities(c_old, a_old, z)
        self.spikes_hidden[:, slot, :] = z
        if self.rule is not None:
            self._update_traces(self.trace_hidden, self.dtrace_hidden, z)

        readout_leak = self._shr(net.kappa * self.y, net.decay_bits)
        self.y = saturate(readout_leak + self._drive("out", self.spikes_hidden, delays["out"]),
                          net.y_bits)

        if learn.any():
            if labels is None:
                raise ValueError("labels are required on learning steps")
            self._learn(vpre, np.broadcast_to(np.asarray(labels), (self.batch,)), learn, delays,
                        threshold, elig_threshold)
            self.learn_count = self.learn_count + learn.astype(np.uint64)
        self.t += 1

        result = StepResult(v=self.v.copy(), z=z, y=self.y.copy(), vpre=vpre)
        if unbatched:
            result = StepResult(*(getattr(result, f.name)[0]
                                  for f in dataclasses.fields(StepResult)))
        return result

    def _update_eligibilities(self, c_old, a_old, z) -> None:
        """Eligibilities of beta, coupling and rho after this step (docs/model.md 11.1)."""
        net, rule, e = self.net, self.rule, self.elig
        a_bits = net.decay_bits
        if net.synapse == "current":
            e["beta_c"] = saturate(self._shr(self.neurons["beta"] * e["beta_c"], a_bits) + c_old,
                                   rule.elig_bits)
            e["beta_v"] = saturate(self._shr(net.alpha * e["beta_v"], a_bits) + e["beta_c"],
                                   rule.elig_bits)
        if net.adaptation == "threshold":
            rho = self.neurons["rho"]
            spikes = z.astype(self.dtype) * (1 << rule.trace_shift)
            e["coupling"] = np.clip(self._shr(rho * e["coupling"], a_bits) + spikes,
                                    0, (1 << rule.trace_bits) - 1)
            e["rho"] = saturate(self._shr(rho * e["rho"], a_bits) + a_old, rule.elig_bits)

    def _drive(self, proj: str, ring: np.ndarray, delays: np.ndarray) -> np.ndarray:
        """Synaptic input ``sum_pre (w >> weight_frac) * spike(delayed)``, ``[batch, post]``."""
        p = self.projections[proj]
        newest = self.t - p.newest_offset
        w_eff = self._shr(p.dense(), self.net.weight_frac)
        arrived = p.gather(ring, newest, delays)
        return np.einsum("bij,bij->bi", np.broadcast_to(arrived, w_eff.shape).astype(w_eff.dtype),
                         w_eff)

    def _update_traces(self, trace: np.ndarray, dtrace: np.ndarray, spikes: np.ndarray) -> None:
        """Presynaptic trace of this step, and the delay-derivative trace ``W`` steps back."""
        rule, t, s = self.rule, self.t, self.slots
        previous = trace[:, (t - 1) % s]
        new = self._shr(rule.trace_decay * previous, self.net.decay_bits) \
            + spikes.astype(self.dtype) * (1 << rule.trace_shift)
        trace[:, t % s] = np.clip(new, 0, (1 << rule.trace_bits) - 1)
        half_width = rule.kernel_half_width
        if t < half_width:
            return  # u[tau] for tau < 0 stays 0
        # u[tau] = sum_m g[m] x[tau - m], tau = t - W, m = -W..W reads x[t .. t - 2W].
        window = trace[:, [(t - half_width - m) % s for m in range(-half_width, half_width + 1)]]
        total = np.einsum("bms,m->bs", window, rule.kernel.astype(self.dtype))
        dtrace[:, (t - half_width) % s] = saturate(self._shr(total, rule.kernel_shift),
                                                   rule.u_bits)

    def _error(self, labels) -> np.ndarray:
        """Readout error ``e_k`` of this step, ``[batch, n_out]`` (docs/model.md 7.2)."""
        net, rule = self.net, self.rule
        target = np.where(np.arange(net.n_out)[None, :] == labels[:, None], rule.target_amp, 0)
        if rule.error == "mse":
            return saturate(self.y - target, net.y_bits)
        # Softmax relative to the largest readout: one LUT read per readout, one sum and one
        # division per step. The largest readout reads exp_lut[0] >= 1, so the sum is > 0.
        distance = self.y.max(axis=1, keepdims=True) - self.y
        index = np.minimum(np.floor_divide(distance, 1 << rule.softmax_shift), 255).astype(int)
        q = rule.exp_lut[index].astype(self.dtype)
        scaled = q * rule.target_amp
        total = q.sum(axis=1, keepdims=True)
        probability = scaled // total if self.exact else scaled / total
        return probability - target

    def _learn(self, vpre, labels, learn, delays, threshold, elig_threshold) -> None:
        """One learning step: error, learning signal, post factors, weight, delay and neuron
        parameter updates."""
        net, rule = self.net, self.rule
        error = self._error(labels) * learn[:, None]
        feedback = self.projections["out"].w if rule.feedback == "symmetric" \
            else np.broadcast_to(rule.b_fb, (self.batch,) + rule.b_fb.shape)
        signal = saturate(self._shr(np.einsum("bki,bk->bi", feedback, error), rule.l_shift),
                          rule.l_bits)
        distance = np.abs(vpre - threshold)
        lut_index = np.minimum(np.floor_divide(distance, 1 << rule.psi_shift), 255).astype(int)
        psi = rule.psi_lut[lut_index]
        post_factor = {"hidden": self._shr(signal * psi, 8), "out": error}

        eta = {"in": rule.eta_in, "rec": rule.eta_rec, "out": rule.eta_out}
        w_lo, w_hi = -(1 << (net.weight_bits - 1)), (1 << (net.weight_bits - 1)) - 1
        d_hi = (net.d_max << net.delay_frac) - 1
        half_width = rule.kernel_half_width
        for name, p in self.projections.items():
            factor = post_factor["out" if name == "out" else "hidden"][:, :, None]
            newest = self.t - p.newest_offset
            w_old = p.w
            w_dense = p.dense()
            if rule.learn_delays and p.kind != "none":
                # Delay eligibility: post factor x current weight x delay-derivative trace,
                # read at the synapse's delay but no newer than the newest final u (t - W).
                u = p.gather(self.dtrace_in if name == "in" else self.dtrace_hidden,
                             newest, np.maximum(delays[name], half_width))
                term = factor * self._shr(w_dense, net.weight_frac) * u
                if p.kind == "synaptic":
                    keys = self._hash_keys(p.addresses, STREAM_SYNAPTIC_DELAY)
                    step = self._round_shift(term, rule.eta_delay, keys)
                else:
                    keys = self._hash_keys(p.axon_addresses, STREAM_AXONAL_DELAY)
                    step = self._round_shift(term.sum(axis=1), rule.eta_delay, keys)
                p.d = np.clip(p.d - step, 0, d_hi)
            if rule.learn_weights:
                x = p.gather(self.trace_in if name == "in" else self.trace_hidden,
                             newest, delays[name])
                if p.band is None:
                    keys = self._hash_keys(p.addresses, STREAM_WEIGHT)
                    step = self._round_shift(factor * x, eta[name], keys)
                else:  # shared kernel: sum over the band exactly, round once per tap
                    keys = self._hash_keys(_shared_addresses("kernel", w_old.shape[1]),
                                           STREAM_SHARED)
                    terms = np.broadcast_to(factor * x, (self.batch,) + p.shape)
                    step = self._round_shift(p.tap_sums(terms), eta[name], keys)
                p.w = np.clip(w_old - step, w_lo, w_hi)
        if rule.learn_neurons:
            self._learn_neurons(post_factor["hidden"], elig_threshold)

    def _learn_neurons(self, factor, elig_threshold) -> None:
        """Updates of beta, coupling and rho from the hidden post factor (section 11.2)."""
        net, rule = self.net, self.rule
        decay_hi = (1 << net.decay_bits) - 1
        gradients = {}
        if net.synapse == "current":
            gradients["beta"] = (factor * self.elig["beta_v"], rule.eta_beta, decay_hi)
        if net.adaptation == "threshold":
            # A higher threshold lowers the spike probability: the gradient of the
            # threshold parameters is minus the post factor times their eligibility.
            gradients["coupling"] = (-factor * elig_threshold[0], rule.eta_coupling,
                                     (1 << (net.v_bits - 1)) - 1)
            gradients["rho"] = (-factor * elig_threshold[1], rule.eta_rho, decay_hi)
        for name, (gradient, eta, hi) in gradients.items():
            keys = self._hash_keys(_shared_addresses(name, net.n_hidden), STREAM_SHARED)
            step = self._round_shift(gradient, eta, keys)
            self.neurons[name] = np.clip(self.neurons[name] - step, 0, hi)

    # -- parameters -------------------------------------------------------------------------

    def export_network(self, index: int = 0) -> Network:
        """The network with the learned weights and delays of batch element ``index``."""
        data = self.net.to_dict()
        for name, p in self.projections.items():
            w, d = p.w[index], None if p.d is None else p.d[index]
            if not self.exact:  # float learning: round to the stored integer grid
                w = np.rint(w).astype(np.int64)
                d = None if d is None else np.rint(d).astype(np.int64)
            data[f"w_{name}"] = w
            if d is not None:
                data[f"d_{name}"] = d
        for name, values in self.neurons.items():
            values = values[index]
            data[name] = values if self.exact else np.rint(values).astype(np.int64)
        return Network.from_dict(data)


def run(net: Network, spikes) -> dict[str, np.ndarray]:
    """Run ``spikes`` (``[T, n_in]`` or ``[batch, T, n_in]``) from zero state, no learning.

    Returns a dict with ``v``, ``z``, ``y`` and ``vpre``, with a time axis after the batch
    axis (or first, for unbatched input).
    """
    spikes = np.asarray(spikes)
    unbatched = spikes.ndim == 2
    if unbatched:
        spikes = spikes[None]
    if spikes.ndim != 3 or spikes.shape[2] != net.n_in:
        raise ValueError(f"spikes must have shape [T, {net.n_in}] or [batch, T, {net.n_in}], "
                         f"got {list(spikes.shape)}")
    core = GoldenCore(net, batch=spikes.shape[0])
    steps = [core.step(spikes[:, t]) for t in range(spikes.shape[1])]
    out = {f.name: np.stack([getattr(s, f.name) for s in steps], axis=1)
           for f in dataclasses.fields(StepResult)}
    if unbatched:
        out = {k: v[0] for k, v in out.items()}
    return out
