"""The ``bo-diffnag`` command line.

Every subcommand prints its result as one JSON object on the last line of stdout. Bad input (unknown
names, malformed architectures, missing data, broken checkpoints) exits with code 2 and a one-line
message on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bo_diffnag import __version__

EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Raised for input the user must fix; reported in one line with exit code 2."""


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help="benchmark data directory (default: $BO_DIFFNAG_DATA, then ../shared/data)",
    )


Extension = Callable[[Any], None]


def build_parser(extensions: Sequence[Extension] = ()) -> argparse.ArgumentParser:
    """The core parser; each extension adds subcommands to its subparsers (``ax_integration`` adds ``run``)."""
    from bo_diffnag.benchmarks import BENCHMARKS
    from bo_diffnag.spaces import SPACES

    parser = argparse.ArgumentParser(
        prog="bo-diffnag",
        description="DiffusionNAG for Bayesian-optimisation NAS: guided diffusion proposals for Ax and BoTorch.",
    )
    parser.add_argument("--version", action="version", version=f"bo-diffnag {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="score one architecture on a benchmark oracle")
    ev.add_argument("--space", required=True, choices=sorted(SPACES))
    ev.add_argument("--benchmark", required=True, choices=BENCHMARKS)
    ev.add_argument("--arch", required=True, help="NB201 arch string or MBv3 JSON config {ks, e, d}")
    ev.add_argument("--noisy", action="store_true", help="NB201: objective is one random seed's accuracy")
    ev.add_argument("--seed", type=int, default=None, help="seed of the noisy objective")
    ev.add_argument("--resolution", type=int, default=224, help="MBv3 input resolution (160..224, step 16)")
    ev.add_argument("--latency-device", action="append", default=[], help="NB201 latency column, repeatable")
    add_data_dir(ev)
    ev.set_defaults(func=_cmd_evaluate)

    prior = sub.add_parser("prior", help="train or sample the diffusion prior")
    prior_sub = prior.add_subparsers(dest="prior_command", required=True, metavar="ACTION")

    tr = prior_sub.add_parser("train", help="train a prior checkpoint")
    tr.add_argument("--space", required=True, choices=sorted(SPACES))
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", required=True, type=Path, help="checkpoint to write (training state: OUT.state)")
    tr.add_argument("--steps", type=int, default=None, help="training steps (default: the space's setting)")
    tr.add_argument("--batch-size", type=int, default=None)
    tr.add_argument("--train-fraction", type=float, default=1.0, help="NB201: train on a random fraction")
    tr.add_argument("--resume", action="store_true", help="continue from OUT.state if it exists")
    tr.add_argument("--no-progress", action="store_true")
    tr.set_defaults(func=_cmd_prior_train)

    sa = prior_sub.add_parser("sample", help="sample architectures from a prior")
    sa.add_argument("--space", required=True, choices=sorted(SPACES))
    sa.add_argument("--num", required=True, type=int)
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--steps", type=int, default=None, help="sampler steps (default: 100)")
    sa.add_argument("--predictor", default="reverse_diffusion", choices=("reverse_diffusion", "euler_maruyama", "ode"))
    sa.add_argument("--corrector-steps", type=int, default=0)
    sa.add_argument("--batch-size", type=int, default=512)
    sa.add_argument("--checkpoint", type=Path, default=None, help="prior checkpoint (default: the shipped one)")
    sa.add_argument("--out", type=Path, default=None, help="write {archs: [...], ...} to this JSON file")
    sa.set_defaults(func=_cmd_prior_sample)
    for extend in extensions:
        extend(sub)
    return parser


def _cmd_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from bo_diffnag.benchmarks import get_benchmark

    if args.benchmark.split(":")[0] != args.space:
        raise BadInput(f"benchmark {args.benchmark!r} does not belong to search space {args.space!r}")
    options: dict[str, Any] = {}
    if args.space == "nb201":
        options = {"noisy": args.noisy, "seed": args.seed, "latency_devices": tuple(args.latency_device)}
    else:
        options = {"resolution": args.resolution}
    return get_benchmark(args.benchmark, data_dir=args.data_dir, **options).evaluate(args.arch)


def _cmd_prior_train(args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import replace

    from bo_diffnag.diffusion.train import DEFAULT_TRAIN, train_prior
    from bo_diffnag.spaces import get_space

    config = DEFAULT_TRAIN[args.space]
    overrides = {"steps": args.steps, "batch_size": args.batch_size}
    config = replace(config, train_fraction=args.train_fraction, **{k: v for k, v in overrides.items() if v is not None})
    prior = train_prior(
        get_space(args.space), seed=args.seed, config=config, out=args.out, resume=args.resume, progress=not args.no_progress
    )
    last = prior.info["history"][-1] if prior.info["history"] else {}
    from bo_diffnag.integrity import sha256_file

    return {
        "space": args.space,
        "out": str(args.out),
        "sha256": sha256_file(args.out),
        "steps": prior.info["steps_done"],
        "seconds": round(prior.info["seconds"], 2),
        "eval_loss": last.get("eval_loss"),
        "loss_floor": prior.info["loss_floor"],
        "validity": last.get("validity"),
    }


def _nan_to_none(value: float | None) -> float | None:
    """A ratio over zero valid samples is NaN, which is not JSON: report it as null."""
    return None if value is None or math.isnan(value) else value


def _cmd_prior_sample(args: argparse.Namespace) -> dict[str, Any]:
    from bo_diffnag.diffusion.prior import DiffusionPrior
    from bo_diffnag.diffusion.sampler import SamplerConfig

    if args.num < 1:
        raise BadInput(f"--num must be >= 1, got {args.num}")
    if args.batch_size < 1:
        raise BadInput(f"--batch-size must be >= 1, got {args.batch_size}")
    prior = (
        DiffusionPrior.pretrained(args.space)
        if args.checkpoint is None
        else DiffusionPrior.from_checkpoint(args.checkpoint, space=args.space)
    )
    sampler = SamplerConfig(
        steps=args.steps if args.steps is not None else SamplerConfig().steps,
        predictor=args.predictor,
        corrector_steps=args.corrector_steps,
    )
    start = time.perf_counter()
    samples = prior.sample(args.num, seed=args.seed, sampler=sampler, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    novelty = samples.novelty(prior.training_archs)
    result = {
        "space": args.space,
        "num": args.num,
        "validity": samples.validity,
        "uniqueness": _nan_to_none(samples.uniqueness),
        "novelty": _nan_to_none(novelty),
        "seconds": round(seconds, 4),
        "archs_per_second": round(len(samples.archs) / seconds, 2),
        "steps": sampler.steps,
        "predictor": sampler.predictor,
        "seed": args.seed,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"archs": samples.archs, **result}, indent=1))
    return result


def main(argv: Sequence[str] | None = None, extensions: Sequence[Extension] = ()) -> int:
    """Run the command line ``argv``; returns the exit code (the console script adds the Ax subcommands)."""
    from bo_diffnag.data import DataNotFoundError

    parser = build_parser(extensions)
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except (BadInput, ValueError, DataNotFoundError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"bo-diffnag: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
