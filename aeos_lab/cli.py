"""The ``aeos-lab`` command line.

Subcommands:
  threshold   print an optimizer's stability threshold, e.g. ``aeos-lab threshold adam --eta 1e-3``
  run         train one network and record (preconditioned) sharpness, e.g.
              ``aeos-lab run --optimizer adam --eta 1e-3 --steps 2000 --out r.json``

The learning rate is ``--eta`` everywhere (``--lr`` and ``--freeze-lr`` are kept as aliases).
  reproduce   export a paper figure as PNG or SVG with its data, e.g.
              ``aeos-lab reproduce fig1 --out figures``; ``aeos-lab reproduce --list``
  bank        the bank of precomputed network runs (:mod:`aeos_lab.precompute`):
              ``aeos-lab bank build [--lessons nb02,nb03] [--limit N]``,
              ``aeos-lab bank verify --sample N [--seed S]``, ``aeos-lab bank info``
"""

from __future__ import annotations

import argparse
import sys

from aeos_lab import __version__
from aeos_lab.core.validation import canonical_name


def _threshold(args: argparse.Namespace) -> int:
    from aeos_lab.core.thresholds import FROZEN_COUNTERPART, optimizer_threshold, threshold_formula
    from aeos_lab.engine.config import optimizer_defaults

    method = FROZEN_COUNTERPART[canonical_name(args.optimizer, FROZEN_COUNTERPART)]
    beta1 = args.beta1
    if beta1 is None:
        beta1 = optimizer_defaults(args.optimizer).get("beta1", 0.0)
    value = optimizer_threshold(args.optimizer, args.eta, beta1)
    print(
        f"{args.optimizer}: frozen counterpart {method}, threshold {threshold_formula(method)}"
        f" = {value:.6g} at eta={args.eta:g}, beta1={beta1:g}"
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    import json

    import jax

    from aeos_lab.engine.config import RunConfig
    from aeos_lab.engine.train import run

    config = RunConfig(
        optimizer=args.optimizer,
        eta=args.eta,
        beta1=args.beta1,
        beta2=args.beta2,
        eps=args.eps,
        bias_correction=args.bias_correction,
        dataset=args.dataset,
        n_train=args.n,
        label_noise=args.label_noise,
        model=args.model,
        loss=args.loss,
        batch_size=args.batch_size,
        warmup_steps=args.warmup_steps,
        steps=args.steps,
        loss_threshold=args.loss_threshold,
        freeze_at=args.freeze_at,
        freeze_eta=args.freeze_eta,
        freeze_precond_at=args.freeze_precond_at,
        track_every=args.track_every,
        k=args.k,
        seed=args.seed,
    )
    device = jax.devices()[0]
    print(f"device: {device.platform} ({device.device_kind})", file=sys.stderr)
    result = run(config, cache=not args.no_cache, progress=not args.quiet)
    payload = result.to_payload()
    last = result.records.iloc[-1]
    print(
        f"{result.status}: {result.steps_done} steps, loss {last['loss']:.4g}, "
        f"sharpness {last['sharpness']:.4g}, preconditioned sharpness "
        f"{last['precond_sharpness']:.4g} = {last['ratio']:.3f} x threshold {last['threshold']:.4g}"
    )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(payload, fh, indent=1)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from aeos_lab import figures as reproduce

    if args.list:
        print(reproduce.listing())
        return 0
    if args.figure is None:
        raise ValueError("figure is required (or --list); e.g. aeos-lab reproduce fig1 --out DIR")
    names = list(reproduce.FIGURES) if args.figure == "all" else [args.figure]
    figures = [reproduce.get_figure(name) for name in names]
    if args.out is None:
        raise ValueError("--out DIR is required: the folder the files are written to")
    if args.fast is None:
        from aeos_lab.notebook import fast_mode

        args.fast = fast_mode()
    for figure in figures:
        progress = None if args.quiet else reproduce.text_progress(f"{figure.id}: ")
        paths = reproduce.export(
            figure.id,
            args.out,
            fmt=args.format,
            fast=args.fast,
            scale_factor=args.scale,
            progress=progress,
        )
        print(f"{figure.id} ({figure.paper}): " + ", ".join(str(p) for p in paths.values()))
    return 0


def _bank(args: argparse.Namespace) -> int:
    from aeos_lab import precompute

    if args.bank_command == "build":
        lessons = None if args.lessons is None else [n for n in args.lessons.split(",") if n]
        if args.limit is not None and args.limit < 0:
            raise ValueError(f"limit must be >= 0, got {args.limit}")
        if lessons is not None and args.paper:
            lessons = [n if n.endswith("-paper") else f"{n}-paper" for n in lessons]
        if args.group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {args.group_size}")
        precompute.build(
            lessons,
            limit=args.limit,
            directory=args.dir,
            paper=args.paper,
            group_size=args.group_size,
            dry_run=args.dry_run,
        )
        return 0
    if args.bank_command == "verify":
        if args.sample < 1:
            raise ValueError(f"sample must be >= 1, got {args.sample}")
        checks = precompute.verify(
            args.sample, seed=args.seed, directory=args.dir, max_seconds=args.max_seconds
        )
        return 0 if checks and all(check.ok for check in checks) else 1
    precompute.info(args.dir)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aeos-lab",
        description="Adaptive Gradient Methods at the Edge of Stability (Cohen et al., 2022)",
    )
    parser.add_argument("--version", action="version", version=f"aeos-lab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("threshold", help="print the stability threshold of an optimizer")
    p.add_argument("optimizer", help="e.g. adam, nadam, rmsprop, ema_hb, gd")
    p.add_argument("--eta", type=float, required=True, help="learning rate (> 0)")
    p.add_argument(
        "--beta1", type=float, default=None, help="momentum in [0, 1) (default: the optimizer's)"
    )
    p.set_defaults(func=_threshold)

    p = sub.add_parser("run", help="train a network and track (preconditioned) sharpness")
    g = p.add_argument_group("optimizer")
    g.add_argument("--optimizer", default="adam", help="adam, frozen-adam, rmsprop, ema_hb, ...")
    g.add_argument(
        "--eta", "--lr", dest="eta", type=float, default=1e-3, help="learning rate (> 0)"
    )
    own = "(default: the optimizer's own)"
    g.add_argument("--beta1", type=float, default=None, help=f"momentum in [0, 1) {own}")
    g.add_argument("--beta2", type=float, default=None, help=f"second-moment decay in [0, 1) {own}")
    g.add_argument("--eps", type=float, default=None, help=f"epsilon (>= 0) {own}")
    g.add_argument(
        "--freeze-precond-at",
        type=int,
        default=None,
        help="stop updating P from this step on (any adaptive optimizer)",
    )
    g.add_argument(
        "--bias-correction",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Adam-style bias correction (default: the optimizer's own)",
    )
    g = p.add_argument_group("data and model")
    g.add_argument(
        "--dataset",
        default="digits",
        help="digits (default), gauss (the micro task), cifar10, cifar100",
    )
    g.add_argument("--n", type=int, default=None, help="number of training examples")
    g.add_argument("--label-noise", type=float, default=None, help="fraction of noisy labels")
    g.add_argument("--model", default="fc", help="fc or cnn")
    g.add_argument("--loss", default="mse", help="mse or ce")
    g = p.add_argument_group("schedule")
    g.add_argument(
        "--batch-size", type=int, default=None, help="minibatch size (full batch when omitted)"
    )
    g.add_argument("--warmup-steps", type=int, default=0, help="linear warmup length")
    g.add_argument("--steps", type=int, default=2000, help="step limit")
    g.add_argument("--loss-threshold", type=float, default=None, help="stop below this loss")
    g.add_argument(
        "--freeze-at",
        type=int,
        default=None,
        help="frozen-adam: freeze the P that an Adam run reaches at this step",
    )
    g.add_argument(
        "--freeze-eta",
        "--freeze-lr",
        dest="freeze_eta",
        type=float,
        default=None,
        help="frozen-adam: that Adam run's learning rate (default: --eta)",
    )
    g = p.add_argument_group("measurement and output")
    g.add_argument("--track-every", type=int, default=50, help="measure every K steps")
    g.add_argument("--k", type=int, default=1, help="number of top eigenvalues")
    g.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    g.add_argument("--out", default=None, help="write the records to FILE.json")
    g.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)

    p = sub.add_parser(
        "reproduce", help="export a paper figure as PNG or SVG with its data (CSV, JSON)"
    )
    p.add_argument("figure", nargs="?", help="figure id, e.g. fig1 or table1 (see --list), or all")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    p.add_argument("--out", default=None, help="output folder (created if missing)")
    p.add_argument("--format", choices=("png", "svg"), default="png", help="image format")
    p.add_argument(
        "--fast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the notebooks' fast-variant sizes (default: as $AEOS_LAB_FAST, else full)",
    )
    p.add_argument("--scale", type=float, default=2.0, help="pixel scale of PNG output (> 0)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_reproduce)

    p = sub.add_parser("bank", help="the bank of precomputed network runs: build, verify, info")
    bank_sub = p.add_subparsers(dest="bank_command", required=True)
    where = "bank folder (default: $AEOS_LAB_BANK_DIR, else the package's aeos_lab/bank)"
    b = bank_sub.add_parser("build", help="train the runs the lessons' panels need")
    b.add_argument("--lessons", default=None, help="comma-separated, e.g. nb02,nb03 (default all)")
    b.add_argument("--limit", type=int, default=None, help="train at most N entries now")
    b.add_argument("--dry-run", action="store_true", help="only list what is missing")
    b.add_argument(
        "--paper", action="store_true", help="the paper-scale bank (CIFAR-10; needs a GPU)"
    )
    b.add_argument(
        "--group-size", type=int, default=32, help="runs per vmapped sweep on an accelerator"
    )
    b.add_argument("--dir", default=None, help=where)
    b = bank_sub.add_parser("verify", help="recompute random entries and compare summaries")
    b.add_argument("--sample", type=int, default=10, help="entries to recompute (default 10)")
    b.add_argument("--seed", type=int, default=0, help="seed of the random choice")
    b.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="draw only among entries whose build took at most this long",
    )
    b.add_argument("--dir", default=None, help=where)
    b = bank_sub.add_parser("info", help="list the bank's files, entries, sizes, provenance")
    b.add_argument("--dir", default=None, help=where)
    p.set_defaults(func=_bank)
    return parser


# Library parameter names -> the command-line options that set them.
_OPTION_OF = {
    "eta": "--eta",
    "freeze_eta": "--freeze-eta",
    "n_train": "--n",
    "label_noise": "--label-noise",
    "batch_size": "--batch-size",
    "warmup_steps": "--warmup-steps",
    "freeze_at": "--freeze-at",
    "freeze_precond_at": "--freeze-precond-at",
    "track_every": "--track-every",
    "loss_threshold": "--loss-threshold",
}


def _name_the_option(message: str, command: str) -> str:
    first = message.split(" ", 1)[0]
    if command == "run" and first in _OPTION_OF:
        return f"argument {_OPTION_OF[first]}: {message}"
    return message


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        # exits with status 2, naming the bad argument
        parser.error(_name_the_option(str(exc), args.command))
    return 1


if __name__ == "__main__":
    sys.exit(main())
