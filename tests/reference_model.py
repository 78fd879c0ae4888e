"""Loop-by-loop reference of ``docs/model.md`` sections 3 (forward step) and 7 (learning).

Written from the document, independently of ``golden/model.py``: plain Python numbers, one
neuron and one synapse at a time, and a full record of every spike and trace over time
instead of rings. The tests compare the vectorised golden model with it after every step.

``exact=True`` is the integer semantics; ``exact=False`` is the float mode of section 7.7
(shifts divide by powers of two, ``R(x, s) = x / 2^s``, saturations and clamps stay).
"""

from __future__ import annotations

import math

MASK32 = 0xFFFF_FFFF
STREAM_WEIGHT, STREAM_SYNAPTIC_DELAY, STREAM_AXONAL_DELAY = 0, 1, 2


def mix32(key: int) -> int:
    """Section 7.6: two rounds of xorshift (13, 17, 5) and an add of the 7-bit rotation."""
    x = key & MASK32
    for _ in range(2):
        x ^= (x << 13) & MASK32
        x ^= x >> 17
        x ^= (x << 5) & MASK32
        x = (x + (((x << 7) | (x >> 25)) & MASK32)) & MASK32
    return x


def sat(x, bits: int):
    """Clamp to the signed range of ``bits`` bits."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return lo if x < lo else min(x, hi)


def clamp(x, lo, hi):
    return lo if x < lo else min(x, hi)


class ReferenceCore:
    """One network, one sample at a time; parameters are learned in place.

    Attributes after each :meth:`step`: ``v``, ``y``, ``vpre``, ``z`` (lists of the step),
    ``w[proj][post][pre]``, ``d[proj]`` (``None``, ``[post][pre]`` or ``[pre]``), the records
    ``s``, ``zr`` (spikes), ``x[src][t]`` and ``u[src][tau]`` with ``src`` in
    ``("in", "hidden")``, ``count`` (learning steps so far) and, for the last learning step,
    ``post_factor`` (``{"hidden": [...], "out": [...]}``) and ``clamped`` (clamp events:
    ``(field, proj, post, pre, unclamped value)``; ``clamp_total`` counts them all).
    """

    def __init__(self, net, *, exact: bool = True):
        self.net = net
        self.rule = net.learning
        if self.rule is not None and getattr(self.rule, "error", "mse") != "mse":
            raise NotImplementedError("the reference implements the error e = y - ystar only")
        self.exact = exact
        num = int if exact else float
        self.projs = ["in", "rec", "out"] if net.recurrent else ["in", "out"]
        self.kind = {"in": net.delay_in, "rec": net.delay_rec, "out": net.delay_out}
        self.w = {p: [[num(v) for v in row] for row in net.weights(p).tolist()]
                  for p in self.projs}
        self.d = {}
        for p in self.projs:
            stored = getattr(net, f"d_{p}")
            if stored is None:
                self.d[p] = None
            elif stored.ndim == 2:
                self.d[p] = [[num(v) for v in row] for row in stored.tolist()]
            else:
                self.d[p] = [num(v) for v in stored.tolist()]
        self.alpha = [int(a) for a in net.alpha]
        self.theta = [int(a) for a in net.theta]
        self.kappa = [int(a) for a in net.kappa]
        self.count = 0
        self.clamp_total = {"w": 0, "d": 0}  # clamp events over all learning steps
        self.reset()

    # -- arithmetic ----------------------------------------------------------------------------

    def shr(self, x, s: int):
        """Arithmetic shift right (floor); a division in float mode."""
        return x >> s if self.exact else x / 2.0 ** s

    def floor_shr(self, x, s: int) -> int:
        """Shift used as an index (LUT, integer delay): a floor in both modes."""
        return int(x) >> s if self.exact else math.floor(x / 2.0 ** s)

    def round_shift(self, x, s: int, stream: int, address: int):
        """``R(x, s)`` of section 7.6."""
        if not self.exact:
            return x / 2.0 ** s
        if self.rule.rounding == "truncate":
            magnitude = abs(x) >> s
            return magnitude if x >= 0 else -magnitude
        key = (self.rule.seed ^ ((self.count << 16) & MASK32) ^ (stream << 30) ^ address)
        r = mix32(key) & ((1 << s) - 1)
        return (x + r) >> s

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """A new sample: zero state and records; parameters and ``count`` are kept."""
        net = self.net
        self.t = 0
        self.v = [0] * net.n_hidden
        self.y = [0] * net.n_out
        self.vpre = [0] * net.n_hidden
        self.z = [False] * net.n_hidden
        self.s = []  # s[t][j]
        self.zr = []  # zr[t][i]
        self.x = {"in": [], "hidden": []}  # x[src][t][j]
        self.u = {"in": {}, "hidden": {}}  # u[src][tau][j], tau >= 0
        self.post_factor = None
        self.clamped = []

    def spike(self, src: str, t: int, j: int) -> int:
        if t < 0:
            return 0
        assert t <= self.t, "read of a future spike"
        return int((self.s if src == "in" else self.zr)[t][j])

    def trace(self, src: str, t: int, j: int):
        if t < 0:
            return 0
        assert t <= self.t, "read of a future trace"
        return self.x[src][t][j]

    def dtrace(self, src: str, tau: int, j: int):
        if tau < 0:
            return 0
        # 7.4: never newer than the newest final u, tau = t - W.
        assert tau <= self.t - self.half_width, "read of a non-final u"
        return self.u[src][tau][j]

    @property
    def half_width(self) -> int:
        return (len(self.rule.kernel) - 1) // 2 if self.rule is not None else 0

    def source(self, proj: str) -> str:
        return "in" if proj == "in" else "hidden"

    def int_delay(self, proj: str, post: int, pre: int) -> int:
        kind = self.kind[proj]
        if kind == "none":
            return 0
        stored = self.d[proj][post][pre] if kind == "synaptic" else self.d[proj][pre]
        return self.floor_shr(stored, self.net.delay_frac)

    def w_eff(self, proj: str, post: int, pre: int):
        return self.shr(self.w[proj][post][pre], self.net.weight_frac)

    def newest(self, proj: str) -> int:
        """The time a delay of 0 reads: this step, or the previous one (recurrent)."""
        return self.t - 1 if proj == "rec" else self.t

    # -- addresses (architecture.md layout, run-time sizes) ------------------------------------

    def synapse_address(self, proj: str, post: int, pre: int) -> int:
        net = self.net
        row = net.n_in + (net.n_hidden if net.recurrent else 0)
        if proj == "in":
            return post * row + pre
        if proj == "rec":
            return post * row + net.n_in + pre
        return net.n_hidden * row + post * net.n_hidden + pre

    def source_address(self, proj: str, pre: int) -> int:
        net = self.net
        return {"in": 0, "rec": net.n_in, "out": net.n_in + net.n_hidden}[proj] + pre

    # -- traces (7.1) --------------------------------------------------------------------------

    def _traces(self, src: str, spikes) -> None:
        rule, t = self.rule, self.t
        hi = (1 << rule.trace_bits) - 1
        row = []
        for j, spiked in enumerate(spikes):
            decayed = self.shr(rule.trace_decay * self.trace(src, t - 1, j), self.net.decay_bits)
            row.append(clamp(decayed + (int(spiked) << rule.trace_shift), 0, hi))
        self.x[src].append(row)
        width = self.half_width
        tau = t - width
        if tau < 0:
            return
        kernel = [int(g) for g in rule.kernel]
        row = []
        for j in range(len(spikes)):
            total = 0
            for m in range(-width, width + 1):
                total += kernel[m + width] * self.trace(src, tau - m, j)
            row.append(sat(self.shr(total, rule.kernel_shift), rule.u_bits))
        self.u[src][tau] = row

    # -- one step (3 and 7) --------------------------------------------------------------------

    def step(self, spikes, label=None, learn: bool = False) -> None:
        net, t = self.net, self.t
        A = net.decay_bits
        spikes = [bool(s) for s in spikes]
        assert len(spikes) == net.n_in
        self.s.append(spikes)
        if self.rule is not None:
            self._traces("in", spikes)

        z = [False] * net.n_hidden
        vpre = [0] * net.n_hidden
        for i in range(net.n_hidden):
            current = 0
            for j in range(net.n_in):
                d = self.int_delay("in", i, j)
                current += self.w_eff("in", i, j) * self.spike("in", t - d, j)
            if net.recurrent:
                for k in range(net.n_hidden):
                    d = self.int_delay("rec", i, k)
                    # z of this step is not recorded yet: delay 0 reads the previous step.
                    current += self.w_eff("rec", i, k) * self.spike("hidden", t - 1 - d, k)
            vpre[i] = sat(self.shr(self.alpha[i] * self.v[i], A) + current, net.v_bits)
            z[i] = vpre[i] >= self.theta[i]
            if z[i]:
                self.v[i] = vpre[i] - self.theta[i] if net.reset == "soft" else 0 * vpre[i]
            else:
                self.v[i] = vpre[i]
        self.zr.append(z)
        self.z, self.vpre = z, vpre
        if self.rule is not None:
            self._traces("hidden", z)

        for k in range(net.n_out):
            current = 0
            for i in range(net.n_hidden):
                d = self.int_delay("out", k, i)
                current += self.w_eff("out", k, i) * self.spike("hidden", t - d, i)
            self.y[k] = sat(self.shr(self.kappa[k] * self.y[k], A) + current, net.y_bits)

        if learn:
            assert self.rule is not None and label is not None
            self._learn(int(label))
            self.count += 1
        self.t += 1

    # -- learning (7.2 - 7.5) ------------------------------------------------------------------

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
            index = min(self.floor_shr(abs(self.vpre[i] - self.theta[i]), rule.psi_shift), 255)
            hidden_factor.append(self.shr(signal * int(rule.psi_lut[index]), 8))
        self.post_factor = {"hidden": hidden_factor, "out": error}
        self.clamped = []

        eta = {"in": rule.eta_in, "rec": rule.eta_rec, "out": rule.eta_out}
        w_lo, w_hi = -(1 << (net.weight_bits - 1)), (1 << (net.weight_bits - 1)) - 1
        d_hi = (net.d_max << net.delay_frac) - 1
        width = self.half_width
        new_w, new_d = {}, {}
        for proj in self.projs:
            # Every update reads the old parameters: compute into copies, swap at the end.
            old_w, old_d, kind = self.w[proj], self.d[proj], self.kind[proj]
            new_w[proj] = [row[:] for row in old_w]
            if old_d is None:
                new_d[proj] = None
            else:
                new_d[proj] = [row[:] for row in old_d] if kind == "synaptic" else old_d[:]
            axon_sum = [0] * len(old_w[0])
            factors = error if proj == "out" else hidden_factor
            src = self.source(proj)
            n = self.newest(proj)
            for post, factor in enumerate(factors):
                if factor == 0:
                    continue  # 7.5 zero skip: no read, no write
                for pre in range(len(old_w[post])):
                    d = self.int_delay(proj, post, pre)
                    address = self.synapse_address(proj, post, pre)
                    if rule.learn_weights:
                        x_del = self.trace(src, n - d, pre)
                        step = self.round_shift(factor * x_del, eta[proj], STREAM_WEIGHT, address)
                        raw = old_w[post][pre] - step
                        new_w[proj][post][pre] = clamp(raw, w_lo, w_hi)
                        if raw != new_w[proj][post][pre]:
                            self.clamped.append(("w", proj, post, pre, raw))
                    if rule.learn_delays and kind != "none":
                        u_del = self.dtrace(src, n - max(d, width), pre)
                        g = factor * self.shr(old_w[post][pre], net.weight_frac) * u_del
                        if kind == "synaptic":
                            step = self.round_shift(g, rule.eta_delay, STREAM_SYNAPTIC_DELAY,
                                                    address)
                            raw = old_d[post][pre] - step
                            new_d[proj][post][pre] = clamp(raw, 0, d_hi)
                            if raw != new_d[proj][post][pre]:
                                self.clamped.append(("d", proj, post, pre, raw))
                        else:
                            axon_sum[pre] += g
            if rule.learn_delays and kind == "axonal":
                for pre, total in enumerate(axon_sum):
                    step = self.round_shift(total, rule.eta_delay, STREAM_AXONAL_DELAY,
                                            self.source_address(proj, pre))
                    raw = old_d[pre] - step
                    new_d[proj][pre] = clamp(raw, 0, d_hi)
                    if raw != new_d[proj][pre]:
                        self.clamped.append(("d", proj, None, pre, raw))
        self.w, self.d = new_w, new_d
        for event in self.clamped:
            self.clamp_total[event[0]] += 1
