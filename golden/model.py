"""Bit-exact golden model of the delaycore integer semantics (``docs/model.md``).

:class:`GoldenCore` advances a :class:`~golden.network.Network` one time step at a time,
vectorised over neurons, synapses and a batch of independent samples. The RTL is compared
against it every step, so it implements the formulas of ``docs/model.md`` literally and does
nothing clever with the arithmetic.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .network import Network

__all__ = ["StepResult", "GoldenCore", "run", "saturate"]


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clamp ``x`` to the signed range of ``bits`` bits."""
    return np.clip(x, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


@dataclasses.dataclass
class StepResult:
    """State after one step. Arrays have a leading batch axis unless the input had none."""

    v: np.ndarray  #: hidden membranes after reset, int64 ``[..., n_hidden]``
    z: np.ndarray  #: hidden spikes, bool ``[..., n_hidden]``
    y: np.ndarray  #: readout values, int64 ``[..., n_out]``
    vpre: np.ndarray  #: hidden membranes before reset, int64 ``[..., n_hidden]``


class _Projection:
    """Weights and integer delays of one projection, arranged for fast gathering."""

    def __init__(self, net: Network, proj: str):
        self.w_eff = net.effective_weights(proj)  # (post, pre)
        self.kind = net.delay_kind(proj)
        delays = net.integer_delays(proj)  # (post, pre)
        self.pre_index = np.arange(delays.shape[1])
        # Axonal and absent delays are the same for every target, so one delayed spike
        # vector per source serves all targets and the sum is a matrix product.
        self.per_source = self.kind != "synaptic"
        self.delays = delays[0] if self.per_source else delays

    def drive(self, history: np.ndarray, newest: int) -> np.ndarray:
        """Sum of ``w_eff * spike`` with the spike read ``delay`` slots before ``newest``.

        ``history`` is ``[batch, slots, pre]``; returns ``[batch, post]`` int64.
        """
        slots = history.shape[1]
        slot = (newest - self.delays) % slots
        if self.per_source:
            delayed = history[:, slot, self.pre_index].astype(np.int64)  # (batch, pre)
            return delayed @ self.w_eff.T
        delayed = history[:, slot, self.pre_index[None, :]]  # (batch, post, pre)
        return np.einsum("bij,ij->bi", delayed.astype(np.int64), self.w_eff)


class GoldenCore:
    """Integer golden model of one delaycore network.

    Parameters
    ----------
    net : Network
        The network to simulate. Its arrays are read when the core is made; make a new core
        after changing them.
    batch : int
        Number of independent samples advanced together.
    """

    def __init__(self, net: Network, batch: int = 1):
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        self.net = net
        self.batch = batch
        # d_max + 1 slots: the recurrent projection reads up to d_max steps back while the
        # slot of the current step is still unwritten.
        self.slots = net.d_max + 1
        self.proj_in = _Projection(net, "in")
        self.proj_rec = _Projection(net, "rec") if net.recurrent else None
        self.proj_out = _Projection(net, "out")
        self.reset()

    def reset(self) -> None:
        """Zero all state: membranes, readouts, spike histories and the step counter."""
        net, b = self.net, self.batch
        self.t = 0
        self.v = np.zeros((b, net.n_hidden), dtype=np.int64)
        self.y = np.zeros((b, net.n_out), dtype=np.int64)
        self.hist_in = np.zeros((b, self.slots, net.n_in), dtype=bool)
        self.hist_hidden = np.zeros((b, self.slots, net.n_hidden), dtype=bool)

    def step(self, spikes) -> StepResult:
        """Advance one time step with input spikes ``[n_in]`` or ``[batch, n_in]``."""
        net = self.net
        spikes = np.asarray(spikes)
        unbatched = spikes.ndim == 1
        if unbatched:
            spikes = spikes[None, :]
        if spikes.shape != (self.batch, net.n_in):
            raise ValueError(f"input spikes must have shape ({self.batch}, {net.n_in}) "
                             f"or ({net.n_in},), got {spikes.shape}")
        slot = self.t % self.slots
        self.hist_in[:, slot, :] = spikes != 0

        current = self.proj_in.drive(self.hist_in, slot)
        if self.proj_rec is not None:
            # Hidden spikes of this step are not in the history yet: delay 0 = previous step.
            current += self.proj_rec.drive(self.hist_hidden, slot - 1)
        leak = (net.alpha * self.v) >> net.decay_bits
        vpre = saturate(leak + current, net.v_bits)
        z = vpre >= net.theta
        if net.reset == "soft":
            after_spike = vpre - net.theta
        else:
            after_spike = np.zeros_like(vpre)
        self.v = np.where(z, after_spike, vpre)
        self.hist_hidden[:, slot, :] = z

        readout_leak = (net.kappa * self.y) >> net.decay_bits
        self.y = saturate(readout_leak + self.proj_out.drive(self.hist_hidden, slot), net.y_bits)
        self.t += 1

        result = StepResult(v=self.v.copy(), z=z, y=self.y.copy(), vpre=vpre)
        if unbatched:
            result = StepResult(*(getattr(result, f.name)[0]
                                  for f in dataclasses.fields(StepResult)))
        return result


def run(net: Network, spikes) -> dict[str, np.ndarray]:
    """Run ``spikes`` (``[T, n_in]`` or ``[batch, T, n_in]``) from zero state.

    Returns a dict with ``v``, ``z``, ``y`` (and ``vpre``) with a time axis after the
    batch axis (or first, for unbatched input).
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
