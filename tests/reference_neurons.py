"""Loop-by-loop reference of the neuron and connectivity options, ``docs/model.md`` 8-11.

Synaptic currents (section 8), the adaptive threshold (9), the convolutional recurrent kernel
(10) and the learning of the neuron parameters and kernel taps (11), written from the
document one neuron, one synapse and one tap at a time, independently of
``golden/model.py``. The plain-LIF parts (spike and trace records, rounding, delays) are
those of :class:`tests.reference_model.ReferenceCore`, which this class extends; ``step``
and ``_learn`` are written out in full.
"""

from __future__ import annotations

import numpy as np

from reference_model import (
    STREAM_AXONAL_DELAY,
    STREAM_SYNAPTIC_DELAY,
    STREAM_WEIGHT,
    ReferenceCore,
    clamp,
    sat,
)

STREAM_SHARED = 3
GROUP = {"kernel": 0, "beta": 1, "coupling": 2, "rho": 3}


class _MatrixView:
    """``net`` with an all-zero ``(n_hidden, n_hidden)`` recurrent matrix if it has a kernel."""

    def __init__(self, net):
        self._net = net

    def __getattr__(self, name):
        return getattr(self._net, name)

    def weights(self, proj):
        if proj == "rec" and self._net.rec_kernel:
            return np.zeros((self._net.n_hidden, self._net.n_hidden), dtype=np.int64)
        return self._net.weights(proj)


class NeuronReferenceCore(ReferenceCore):
    """:class:`ReferenceCore` with the options of sections 8-11.

    Extra attributes: ``c`` and ``a`` (synaptic current and adaptation), ``threshold`` (of
    the last step), ``beta``, ``coupling``, ``rho`` (lists, learned in place),
    ``kernel`` (recurrent taps, when ``rec_kernel > 0``) and the eligibilities ``ec``,
    ``ev``, ``ea``, ``er``.
    """

    def __init__(self, net, *, exact: bool = True):
        # The base class reads every projection as a (post, pre) matrix; a recurrent kernel
        # is kept in ``kernel`` instead and the base class gets a placeholder matrix.
        super().__init__(_MatrixView(net), exact=exact)
        self.net = net
        num = int if exact else float
        hidden = net.n_hidden
        self.beta = [num(b) for b in net.beta] if net.synapse == "current" else [0] * hidden
        adaptive = net.adaptation == "threshold"
        self.coupling = [num(b) for b in net.coupling] if adaptive else [0] * hidden
        self.rho = [num(r) for r in net.rho] if adaptive else [0] * hidden
        self.K = net.rec_kernel
        if self.K:
            self.kernel = [num(w) for w in net.w_rec.tolist()]

    def reset(self) -> None:
        super().reset()
        hidden = self.net.n_hidden
        self.c = [0] * hidden
        self.a = [0] * hidden
        self.threshold = [0] * hidden
        self.ec, self.ev, self.ea, self.er = ([0] * hidden for _ in range(4))
        self.ea_old, self.er_old = [0] * hidden, [0] * hidden

    def rec_weight(self, post: int, pre: int):
        """Stored recurrent weight of ``pre -> post``: dense, or the kernel tap (0 outside)."""
        if not self.K:
            return self.w["rec"][post][pre]
        tap = pre - post + self.K // 2
        return self.kernel[tap] if 0 <= tap < self.K else 0

    def weight(self, proj: str, post: int, pre: int):
        return self.rec_weight(post, pre) if proj == "rec" else self.w[proj][post][pre]

    # -- one step ------------------------------------------------------------------------------

    def step(self, spikes, label=None, learn: bool = False) -> None:
        net, t = self.net, self.t
        A = net.decay_bits
        v_hi = (1 << (net.v_bits - 1)) - 1
        spikes = [bool(s) for s in spikes]
        self.s.append(spikes)
        if self.rule is not None:
            self._traces("in", spikes)

        z = [False] * net.n_hidden
        vpre = [0] * net.n_hidden
        c_old, a_old = self.c[:], self.a[:]
        for i in range(net.n_hidden):
            current = 0
            for j in range(net.n_in):
                d = self.int_delay("in", i, j)
                current += self.w_eff("in", i, j) * self.spike("in", t - d, j)
            if net.recurrent:
                for k in range(net.n_hidden):
                    d = self.int_delay("rec", i, k)
                    w = self.shr(self.rec_weight(i, k), net.weight_frac)
                    current += w * self.spike("hidden", t - 1 - d, k)
            if net.synapse == "current":  # section 8
                self.c[i] = sat(self.shr(self.beta[i] * c_old[i], A) + current, net.v_bits)
                current = self.c[i]
            vpre[i] = sat(self.shr(self.alpha[i] * self.v[i], A) + current, net.v_bits)
            if net.adaptation == "threshold":  # section 9
                self.threshold[i] = min(self.theta[i] + a_old[i], v_hi)
            else:
                self.threshold[i] = self.theta[i]
            z[i] = vpre[i] >= self.threshold[i]
            if z[i]:
                self.v[i] = vpre[i] - self.threshold[i] if net.reset == "soft" else 0 * vpre[i]
            else:
                self.v[i] = vpre[i]
            if net.adaptation == "threshold":
                self.a[i] = min(self.shr(self.rho[i] * a_old[i], A)
                                + (self.coupling[i] if z[i] else 0), v_hi)
        self.zr.append(z)
        self.z, self.vpre = z, vpre
        if self.rule is not None:
            self._traces("hidden", z)
            # The threshold of this step read a[t-1]: its eligibilities are the old ones.
            self.ea_old, self.er_old = self.ea[:], self.er[:]
            if self.rule.learn_neurons:
                self._eligibilities(c_old, a_old, z)

        for k in range(net.n_out):
            current = 0
            for i in range(net.n_hidden):
                d = self.int_delay("out", k, i)
                current += self.w_eff("out", k, i) * self.spike("hidden", t - d, i)
            self.y[k] = sat(self.shr(self.kappa[k] * self.y[k], A) + current, net.y_bits)

        if learn:
            self._learn(int(label))
            self.count += 1
        self.t += 1

    def _eligibilities(self, c_old, a_old, z) -> None:
        """Section 11.1, one neuron at a time."""
        net, rule = self.net, self.rule
        A, bits = net.decay_bits, rule.elig_bits
        for i in range(net.n_hidden):
            if net.synapse == "current":
                self.ec[i] = sat(self.shr(self.beta[i] * self.ec[i], A) + c_old[i], bits)
                self.ev[i] = sat(self.shr(self.alpha[i] * self.ev[i], A) + self.ec[i], bits)
            if net.adaptation == "threshold":
                spike = (1 << rule.trace_shift) if z[i] else 0
                self.ea[i] = clamp(self.shr(self.rho[i] * self.ea[i], A) + spike,
                                   0, (1 << rule.trace_bits) - 1)
                self.er[i] = sat(self.shr(self.rho[i] * self.er[i], A) + a_old[i], bits)

    # -- learning ------------------------------------------------------------------------------

    def _learn(self, label: int) -> None:
        net, rule = self.net, self.rule
        error = [sat(self.y[k] - (rule.target_amp if k == label else 0), net.y_bits)
                 for k in range(net.n_out)]
        hidden_factor = []
        for i in range(net.n_hidden):
            total = 0
            for k in range(net.n_out):
                b = self.w["out"][k][i] if rule.feedback == "symmetric" else int(rule.b_fb[k, i])
                total += b * error[k]
            signal = sat(self.shr(total, rule.l_shift), rule.l_bits)
            distance = abs(self.vpre[i] - self.threshold[i])
            index = min(self.floor_shr(distance, rule.psi_shift), 255)
            hidden_factor.append(self.shr(signal * int(rule.psi_lut[index]), 8))
        self.post_factor = {"hidden": hidden_factor, "out": error}

        eta = {"in": rule.eta_in, "rec": rule.eta_rec, "out": rule.eta_out}
        w_lo, w_hi = -(1 << (net.weight_bits - 1)), (1 << (net.weight_bits - 1)) - 1
        d_hi = (net.d_max << net.delay_frac) - 1
        width = self.half_width
        new_w, new_d = {}, {}
        new_kernel = self.kernel[:] if self.K else None
        for proj in self.projs:
            old_w, old_d, kind = self.w[proj], self.d[proj], self.kind[proj]
            new_w[proj] = [row[:] for row in old_w] if not (proj == "rec" and self.K) else old_w
            if old_d is None:
                new_d[proj] = None
            else:
                new_d[proj] = [row[:] for row in old_d] if kind == "synaptic" else old_d[:]
            n_pre = net.n_in if proj == "in" else net.n_hidden
            axon_sum = [0] * n_pre
            tap_sum = [0] * self.K
            factors = error if proj == "out" else hidden_factor
            src = self.source(proj)
            n = self.newest(proj)
            shared = proj == "rec" and self.K
            for post, factor in enumerate(factors):
                for pre in range(n_pre):
                    if shared and not 0 <= pre - post + self.K // 2 < self.K:
                        continue  # no synapse outside the kernel's band
                    d = self.int_delay(proj, post, pre)
                    w_syn = self.weight(proj, post, pre)
                    if rule.learn_weights:
                        x_del = self.trace(src, n - d, pre)
                        if shared:
                            tap_sum[pre - post + self.K // 2] += factor * x_del
                        else:
                            address = self.synapse_address(proj, post, pre)
                            step = self.round_shift(factor * x_del, eta[proj], STREAM_WEIGHT,
                                                    address)
                            new_w[proj][post][pre] = clamp(w_syn - step, w_lo, w_hi)
                    if rule.learn_delays and kind != "none":
                        u_del = self.dtrace(src, n - max(d, width), pre)
                        g = factor * self.shr(w_syn, net.weight_frac) * u_del
                        if kind == "synaptic":
                            step = self.round_shift(g, rule.eta_delay, STREAM_SYNAPTIC_DELAY,
                                                    self.synapse_address(proj, post, pre))
                            new_d[proj][post][pre] = clamp(old_d[post][pre] - step, 0, d_hi)
                        else:
                            axon_sum[pre] += g
            if rule.learn_delays and kind == "axonal":
                for pre, total in enumerate(axon_sum):
                    step = self.round_shift(total, rule.eta_delay, STREAM_AXONAL_DELAY,
                                            self.source_address(proj, pre))
                    new_d[proj][pre] = clamp(old_d[pre] - step, 0, d_hi)
            if shared and rule.learn_weights:
                for tap, total in enumerate(tap_sum):
                    step = self.round_shift(total, eta["rec"], STREAM_SHARED,
                                            GROUP["kernel"] * 4096 + tap)
                    new_kernel[tap] = clamp(self.kernel[tap] - step, w_lo, w_hi)
        self.w, self.d = new_w, new_d
        if self.K:
            self.kernel = new_kernel
        if rule.learn_neurons:
            self._learn_neurons(hidden_factor)

    def _learn_neurons(self, factor) -> None:
        """Section 11.2: beta, coupling, rho, one neuron at a time (old values)."""
        net, rule = self.net, self.rule
        decay_hi = (1 << net.decay_bits) - 1
        v_hi = (1 << (net.v_bits - 1)) - 1
        for i, f in enumerate(factor):
            if net.synapse == "current":
                step = self.round_shift(f * self.ev[i], rule.eta_beta, STREAM_SHARED,
                                        GROUP["beta"] * 4096 + i)
                self.beta[i] = clamp(self.beta[i] - step, 0, decay_hi)
            if net.adaptation == "threshold":
                step = self.round_shift(-f * self.ea_old[i], rule.eta_coupling, STREAM_SHARED,
                                        GROUP["coupling"] * 4096 + i)
                self.coupling[i] = clamp(self.coupling[i] - step, 0, v_hi)
                step = self.round_shift(-f * self.er_old[i], rule.eta_rho, STREAM_SHARED,
                                        GROUP["rho"] * 4096 + i)
                self.rho[i] = clamp(self.rho[i] - step, 0, decay_hi)
