"""Command line for NIR files: ``python -m golden.nir export|import``.

Usage::

    python -m golden.nir export --net NET.json --out NET.nir [--dt SECONDS]
    python -m golden.nir import --nir NET.nir --out NET.json [--dt SECONDS]
        [--weight-bits B] [--weight-frac F] [--delay-frac F] [--d-max D] [--decay-bits A]
        [--v-bits V] [--y-bits Y] [--reset soft|hard] [--scale S]

``export`` writes a delaycore network as a NIR graph; ``import`` maps a NIR graph (from
delaycore or another tool) to a delaycore network, quantising weights, thresholds, leaks
and delays to the integer formats. The mapping and the quantisation are described in
:mod:`golden.nir_io` and ``docs/data.md``. Each prints a one-line JSON summary; a file or
graph that cannot be used prints one line ``error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .network import NetworkError, load_network, save_network
from .nir_io import DEFAULT_DT, NIRError, import_nir, read_nir, write_nir

__all__ = ["main"]

EXIT_INPUT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line ``error: ...`` and exit status 2."""

    def error(self, message):
        raise NIRError(message)


def _parser() -> _Parser:
    parser = _Parser(prog="python -m golden.nir",
                     description="Export delaycore networks to NIR and import NIR graphs.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    export = commands.add_parser("export", help="network (.json/.toml) -> NIR graph (.nir)",
                                 description="Write a delaycore network as a NIR graph.")
    export.add_argument("--net", required=True, type=Path, help="network (.json or .toml)")
    export.add_argument("--out", required=True, type=Path, help="output NIR file (.nir)")
    export.add_argument("--dt", type=float, default=DEFAULT_DT,
                        help="seconds per time step (default %(default)s)")
    imp = commands.add_parser("import", help="NIR graph (.nir) -> network (.json)",
                              description="Map a NIR graph to a delaycore network, quantised "
                                          "to the integer formats.")
    imp.add_argument("--nir", required=True, type=Path, help="NIR file (.nir)")
    imp.add_argument("--out", required=True, type=Path, help="output network (.json)")
    imp.add_argument("--dt", type=float, default=None,
                     help="seconds per time step of the graph (default: from a delaycore "
                          f"graph's metadata, else {DEFAULT_DT})")
    network_default = "a delaycore graph's, else the network default"
    fitting = "a delaycore graph's, else the smallest power of two above the longest delay"
    for flag, what, default in (
            ("--weight-bits", "signed weight width", network_default),
            ("--weight-frac", "weight fraction bits", network_default),
            ("--delay-frac", "delay fraction bits", network_default),
            ("--d-max", "delay range", fitting),
            ("--decay-bits", "width of the decay factors", network_default),
            ("--v-bits", "membrane width", network_default),
            ("--y-bits", "readout width", network_default)):
        imp.add_argument(flag, type=int, default=None, help=f"{what} (default: {default})")
    imp.add_argument("--reset", choices=("soft", "hard"), default=None,
                     help="reset mode (default: a delaycore graph's, else hard as in NIR)")
    imp.add_argument("--scale", type=float, default=None,
                     help="membrane units per graph unit (default: fill the weight range)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    try:
        args = _parser().parse_args(argv)
        if args.dt is not None and not args.dt > 0:
            raise NIRError(f"--dt must be > 0 seconds, got {args.dt}")
        if args.command == "export":
            if args.out.suffix.lower() != ".nir":
                raise NIRError(f"--out must name a .nir file, got {str(args.out)!r}")
            net = load_network(args.net)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            write_nir(net, args.out, dt=args.dt)
            print(json.dumps({"out": str(args.out), "n_in": net.n_in,
                              "n_hidden": net.n_hidden, "n_out": net.n_out,
                              "recurrent": net.recurrent, "dt": args.dt}))
            return 0
        if args.out.suffix.lower() != ".json":
            raise NIRError(f"--out must name a .json file, got {str(args.out)!r}")
        graph = read_nir(args.nir)
        try:
            net = import_nir(graph, dt=args.dt, weight_bits=args.weight_bits,
                             weight_frac=args.weight_frac, delay_frac=args.delay_frac,
                             d_max=args.d_max, decay_bits=args.decay_bits, v_bits=args.v_bits,
                             y_bits=args.y_bits, reset=args.reset, scale=args.scale)
        except NIRError as err:
            raise NIRError(f"{args.nir}: {err}") from None
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_network(net, args.out)
        print(json.dumps({"out": str(args.out), "n_in": net.n_in, "n_hidden": net.n_hidden,
                          "n_out": net.n_out, "recurrent": net.recurrent,
                          "delay_in": net.delay_in, "delay_rec": net.delay_rec,
                          "delay_out": net.delay_out, "d_max": net.d_max}))
        return 0
    except (NIRError, NetworkError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except OSError as err:
        print(f"error: {getattr(err, 'filename', '') or ''}: cannot write "
              f"({err.strerror or err})", file=sys.stderr)
        return EXIT_INPUT_ERROR


if __name__ == "__main__":
    sys.exit(main())
