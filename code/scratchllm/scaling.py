"""Scaling laws: how the loss falls with parameters N, tokens D and compute C.

    budgets C, shapes -> plan (steps so that flops_per_token * D = C)
        -> sweep (one Trainer run per shape, budget and seed) -> losses
        -> fit_isoflop (Approach 2) and fit_parametric (Approach 3)

Both fits follow Hoffmann et al. (2022, "Chinchilla"): a parabola through
each budget's losses in log N, whose minima trace N_opt(C); and the law

    L(N, D) = E + A / N^alpha + B / D^beta

fitted to every run at once.  bootstrap() gives the fit's uncertainty as
Besiroglu et al. (2024) ask, holdout() tests it on a budget it never saw,
and fit_repetition() measures what repeated data is worth (Muennighoff et
al., 2023).  The command line runs a sweep:

    python -m scratchllm.scaling --tokens data/ --budgets 1e13 3e13 1e14 \\
        --seeds 0 1 2 --device cuda --out sweep.json
"""

import argparse
import dataclasses
import functools
import itertools
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize, minimize_scalar
from scipy.special import huber

from scratchllm.cli import at_least, run_command
from scratchllm.config import GPTConfig
from scratchllm.io import atomic_write
from scratchllm.model import GPT
from scratchllm.train import (
    TrainConfig,
    Trainer,
    add_fields,
    field_values,
    make_model,
    read_splits,
)

# --- counting parameters and FLOPs -------------------------------------------


@dataclass(frozen=True)
class Shape:
    """The three numbers that set a GPT's size (the rest is in GPTConfig)."""

    n_layer: int
    n_head: int
    n_embd: int

    @property
    def name(self):
        return f"{self.n_layer}L-{self.n_head}H-{self.n_embd}d"

    @classmethod
    def parse(cls, text):
        """A Shape from its name, e.g. "4L-4H-128d"."""
        match = re.fullmatch(r"(\d+)L-(\d+)H-(\d+)d", text)
        if match is None:
            raise ValueError(f"{text!r} is no shape like 4L-4H-128d")
        return cls(*map(int, match.groups()))


def shaped(model_config, shape):
    """model_config with the shape's depth, heads and width."""
    return dataclasses.replace(model_config, **dataclasses.asdict(shape))


def counts(model_config):
    """N with and without embeddings, and the FLOPs to train on one token."""
    return cached_counts(tuple(dataclasses.asdict(model_config).items()))


@functools.cache
def cached_counts(fields):
    # Built on the meta device, the model's tensors have shapes but no
    # memory; still its initialisation takes time, so each shape is counted
    # once.
    with torch.device("meta"):
        model = GPT(GPTConfig(**dict(fields)))
    return dict(
        params=model.num_params(non_embedding=False),
        params_non_embedding=model.num_params(non_embedding=True),
        flops_per_token=model.flops_per_token(),
    )


def chinchilla_params(budget):
    """The compute-optimal N that C = 6 N D and 20 tokens per parameter
    (Hoffmann et al.'s rule of thumb) give: C = 120 N^2."""
    return math.sqrt(budget / 120)


# The shapes shapes_around picks from: one per width, 64 channels per
# layer (nanochat's aspect ratio; one layer at least) and heads of 32
# channels (one head below 64), so that shapes differ in size, not in
# proportions.  At a vocabulary of 4096 the embedding dominates a small
# model: widths down to 16 reach the optimum of the smallest budgets.
WIDTHS = (16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512)


def family(widths=WIDTHS):
    return [Shape(max(1, round(w / 64)), max(1, w // 32), w) for w in widths]


def shapes_around(params, model_config, count=7, factor=1.6):
    """`count` shapes of the family whose N (embeddings included) lies
    closest to params * factor^k, k = -(count-1)/2 .. (count-1)/2: evenly
    spaced in log N around `params`.  Where the family has no shape that
    small (or large), the targets move up (or down) together; fewer shapes
    come back if two targets share one."""
    sizes = {s: counts(shaped(model_config, s))["params"] for s in family()}
    log_N = {s: math.log(n) for s, n in sizes.items()}
    span = (count - 1) * math.log(factor)
    low = math.log(params) - span / 2
    low = min(max(low, min(log_N.values())), max(log_N.values()) - span)
    chosen = []
    for k in range(count):
        target = low + k * math.log(factor)
        best = min(log_N, key=lambda s: abs(log_N[s] - target))
        if best not in chosen:
            chosen.append(best)
    return chosen


# --- planning a sweep --------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One planned training run: a shape trained for `steps` steps, which
    spend `flops` = flops_per_token * tokens, close to the `budget`."""

    shape: Shape
    budget: float  # the FLOPs asked for
    steps: int
    tokens: int  # D, tokens trained on
    flops: float  # C, what the steps spend
    params: int  # N, embeddings included
    params_non_embedding: int
    unique_tokens: int | None = None  # train on the first ones only


# Rounding C / (flops_per_token * tokens_per_step) to whole steps misses the
# budget by at most half a step: under 1% from 50 steps on.
MIN_STEPS = 50


def make_run(shape, steps, model_config, train_config, budget=None, **extra):
    """The Run of `shape` trained for `steps` steps; its budget, unless
    given, is what the steps spend."""
    n = counts(shaped(model_config, shape))
    tokens = steps * train_config.tokens_per_step
    flops = n["flops_per_token"] * tokens
    return Run(
        shape=shape,
        budget=flops if budget is None else budget,
        steps=steps,
        tokens=tokens,
        flops=flops,
        params=n["params"],
        params_non_embedding=n["params_non_embedding"],
        **extra,
    )


def plan_isoflop(budget, shapes, model_config, train_config):
    """The runs of one IsoFLOP curve: each shape trained for the steps that
    spend `budget` FLOPs, within 1%.  Shapes too large to be trained for
    MIN_STEPS steps within the budget are left out."""
    runs = []
    for shape in shapes:
        per_token = counts(shaped(model_config, shape))["flops_per_token"]
        steps = round(budget / (per_token * train_config.tokens_per_step))
        if steps >= MIN_STEPS:
            run = make_run(shape, steps, model_config, train_config, budget)
            runs.append(run)
    return runs


def plan_sweep(budgets, model_config, train_config, shapes=None, count=7):
    """The runs of every budget: `shapes` for each, or by default `count`
    shapes around each budget's Chinchilla-optimal N (shapes_around)."""
    runs = []
    for budget in budgets:
        around = shapes or shapes_around(
            chinchilla_params(budget), model_config, count
        )
        runs += plan_isoflop(budget, around, model_config, train_config)
    return runs


def plan_repetition(shape, unique_tokens, epochs, model_config, train_config):
    """Runs of one shape on the first `unique_tokens` tokens of the split,
    for each number of epochs: D = epochs * unique_tokens, to a step."""
    per_step = train_config.tokens_per_step
    return [
        make_run(
            shape,
            round(e * unique_tokens / per_step),
            model_config,
            train_config,
            unique_tokens=unique_tokens,
        )
        for e in epochs
    ]


# --- training the runs -------------------------------------------------------


def warmup_steps(steps, fraction=0.05, cap=100):
    """A short warmup: 5% of the run, at most 100 steps."""
    return min(round(fraction * steps), cap)


def run_config(run, train_config, seed):
    """train_config with the run's own schedule: a cosine that ends at its
    last step, and one evaluation, there."""
    return dataclasses.replace(
        train_config,
        max_steps=run.steps,
        warmup_steps=warmup_steps(run.steps),
        eval_interval=run.steps,
        log_interval=run.steps,
        seed=seed,
        checkpoint_path=None,
    )


def train_run(run, train_tokens, val_tokens, model_config, train_config, seed):
    """Train one planned run; returns its record.

    The validation loss is the mean over train_config.eval_batches batches
    of windows drawn with `seed`: the same windows for every shape of one
    seed, so the shapes' losses differ by the models alone.
    """
    config = run_config(run, train_config, seed)
    if config.compile:
        torch._dynamo.reset()  # each shape compiles afresh
    if run.unique_tokens is not None:
        train_tokens = train_tokens[: run.unique_tokens]
    model = make_model(shaped(model_config, run.shape), seed)
    trainer = Trainer(model, train_tokens, val_tokens, config)
    last = trainer.run()[-1]
    return dict(
        dataclasses.asdict(run),
        name=run.shape.name,
        seed=seed,
        epochs=run.tokens / len(train_tokens),
        train_loss=last["train_loss"],
        val_loss=last["val_loss"],
        seconds=trainer.elapsed,
    )


def sweep(
    runs,
    train_tokens,
    val_tokens,
    model_config,
    train_config,
    seeds,
    callback=None,
    deadline=None,
):
    """Every run for every seed, seed by seed (so a sweep cut short has
    whole IsoFLOP curves); returns their records.  callback(record) is
    called after each run; no run starts after `deadline`, a
    time.perf_counter() value."""
    records = []
    for seed, run in itertools.product(seeds, runs):
        if deadline is not None and time.perf_counter() > deadline:
            break
        record = train_run(
            run, train_tokens, val_tokens, model_config, train_config, seed
        )
        records.append(record)
        if callback is not None:
            callback(record)
    return records


def columns(records, params="params"):
    """Budget, N, D and validation loss of a sweep's records, as arrays for
    the fits.  params="params_non_embedding": N as Kaplan et al. count it."""
    keys = ("budget", params, "tokens", "val_loss")
    return [np.array([r[k] for r in records], dtype=float) for k in keys]


# --- Approach 2: a parabola per IsoFLOP curve --------------------------------


def tokens_at(N, D, n):
    """The tokens one budget buys at n parameters, from its runs' (N, D):
    log D is close to a line in log N (D = C / flops_per_token, and
    flops_per_token is close to 6 N), where C / 6 n would leave out
    attention."""
    line = np.polyfit(np.log(N), np.log(D), 1)
    return float(np.exp(np.polyval(line, np.log(n))))


def isoflop_minimum(N, D, loss):
    """The minimum of the parabola through (log N, loss) of one budget:
    N_opt, D_opt (tokens_at N_opt) and the parabola's loss there."""
    x, y = np.log(N), np.asarray(loss, dtype=float)
    curvature, slope, _ = coefficients = np.polyfit(x, y, 2)
    if curvature <= 0:
        raise ValueError("the IsoFLOP losses have no minimum: add shapes")
    x_opt = -slope / (2 * curvature)
    return dict(
        N_opt=float(np.exp(x_opt)),
        D_opt=tokens_at(N, D, np.exp(x_opt)),
        loss_opt=float(np.polyval(coefficients, x_opt)),
        inside=bool(x.min() <= x_opt <= x.max()),  # not extrapolated
    )


def seed_means(budget, N, D, loss):
    """The mean loss over the seeds of each (budget, N, D): four arrays."""
    groups = {}
    runs = zip(budget, N, D, strict=True)
    for key, value in zip(runs, loss, strict=True):
        groups.setdefault(key, []).append(value)
    keys = sorted(groups)
    budget, N, D = np.array(keys, dtype=float).T
    return budget, N, D, np.array([np.mean(groups[k]) for k in keys])


def power_law(x, y):
    """(exponent, coefficient) of y = coefficient * x^exponent, fitted in
    log-log by least squares."""
    exponent, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(exponent), float(np.exp(intercept))


def fit_isoflop(budget, N, D, loss):
    """Approach 2: per budget a parabola in log N through the seeds' mean
    losses, then N_opt = k_N C^a and D_opt = k_D C^b through its minima."""
    budget, N, D, loss = seed_means(budget, N, D, loss)
    minima = []
    for C in np.unique(budget):
        here = budget == C
        minimum = isoflop_minimum(N[here], D[here], loss[here])
        minima.append(dict(C=float(C), **minimum))
    C = [m["C"] for m in minima]
    a, k_N = power_law(C, [m["N_opt"] for m in minima])
    b, k_D = power_law(C, [m["D_opt"] for m in minima])
    return dict(a=a, k_N=k_N, b=b, k_D=k_D, minima=minima)


# --- Approach 3: the parametric law ------------------------------------------


def law_terms(theta, log_N, log_D):
    """The logs of the law's three terms, for theta = (log A, log B, log E,
    alpha, beta): positive A, B and E whatever theta, and no overflow."""
    a, b, e, alpha, beta = theta
    return a - alpha * log_N, b - beta * log_D, np.full_like(log_N, e)


def huber_objective(theta, log_N, log_D, log_loss, delta):
    """The Huber loss of the law's log loss against the measured one, and
    its gradient (without it L-BFGS-B would estimate it from 6 evaluations
    a step).  Divided by delta, so that L-BFGS-B's tolerances, which are
    absolute, suit its size."""
    terms = law_terms(theta, log_N, log_D)
    log_fit = np.logaddexp(np.logaddexp(terms[0], terms[1]), terms[2])
    r = log_fit - log_loss
    dr = np.clip(r, -delta, delta)  # the Huber loss's derivative
    # d log_fit / d term = the term's share of the sum
    share = [dr * np.exp(t - log_fit) for t in terms]
    grad = [
        share[0].sum(),
        share[1].sum(),
        share[2].sum(),
        -(share[0] * log_N).sum(),
        -(share[1] * log_D).sum(),
    ]
    return huber(delta, r).sum() / delta, np.array(grad) / delta


def shift(theta, m_N, m_D):
    """theta for log N and log D moved by m_N and m_D, the losses kept:
    a - alpha log N = (a + alpha m_N) - alpha (log N + m_N)."""
    a, b, e, alpha, beta = theta
    return np.array([a + alpha * m_N, b + beta * m_D, e, alpha, beta])


# Starts for L-BFGS-B: Hoffmann et al.'s grid (6 x 6 x 6 x 5 x 5 points)
# thinned to 2 points an axis, 32 in all, so that a bootstrap of 200 fits
# stays affordable.  Some starts still end in a poor local minimum: the
# reason for starting from many.
GRID = list(
    itertools.product(
        (0.0, 15.0),  # log A
        (0.0, 15.0),  # log B
        (-1.0, 1.0),  # log E
        (0.2, 0.8),  # alpha
        (0.2, 0.8),  # beta
    )
)


def law_parameters(theta):
    a, b, e, alpha, beta = theta
    fit = dict(
        E=math.exp(e),
        A=math.exp(a),
        B=math.exp(b),
        alpha=float(alpha),
        beta=float(beta),
    )
    # Minimising L under C = 6 N D: N_opt ~ C^a, D_opt ~ C^b.
    fit["a"] = float(beta / (alpha + beta))
    fit["b"] = float(alpha / (alpha + beta))
    return fit


def fit_parametric(N, D, loss, starts=GRID, delta=1e-3):
    """Approach 3: E, A, B, alpha and beta of L = E + A/N^alpha + B/D^beta.

    As Hoffmann et al. fit it: the Huber loss (delta 1e-3, robust to a few
    stray runs) between predicted and measured log loss, minimised by
    L-BFGS-B from every start of a grid; the best minimum is kept.
    """
    log_N, log_D = np.log(N), np.log(D)
    # Centred on their means, log N and log D no longer tie log A to alpha
    # (and log B to beta) along a narrow valley: fewer steps per start.
    m_N, m_D = log_N.mean(), log_D.mean()
    data = (log_N - m_N, log_D - m_D, np.log(loss), delta)
    fits = [
        minimize(
            huber_objective,
            shift(start, -m_N, -m_D),
            args=data,
            jac=True,
            method="L-BFGS-B",
        )
        for start in starts
    ]
    best = min(fits, key=lambda result: result.fun)
    theta = shift(best.x, m_N, m_D)
    return dict(law_parameters(theta), objective=float(best.fun))


def predict(fit, N, D):
    """The law's loss at N parameters trained on D tokens."""
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    return fit["E"] + fit["A"] / N ** fit["alpha"] + fit["B"] / D ** fit["beta"]


def allocation(fit, budget):
    """The law's compute-optimal split of `budget` under C = 6 N D
    (Hoffmann et al.'s closed form): N_opt, D_opt, tokens per parameter."""
    alpha, beta = fit["alpha"], fit["beta"]
    G = (alpha * fit["A"] / (beta * fit["B"])) ** (1 / (alpha + beta))
    N_opt = G * (budget / 6) ** (beta / (alpha + beta))
    D_opt = (budget / 6) ** (alpha / (alpha + beta)) / G
    return dict(N_opt=N_opt, D_opt=D_opt, tokens_per_param=D_opt / N_opt)


def isoflop_optimum(fit, N, D):
    """The law's best loss along one budget's IsoFLOP curve, given by its
    runs' (N, D) (tokens_at), searched by scipy within the runs' N."""

    def loss_at(log_n):
        n = math.exp(log_n)
        return float(predict(fit, n, tokens_at(N, D, n)))

    log_N = np.log(N)
    best = minimize_scalar(loss_at, bounds=(log_N.min(), log_N.max()))
    return dict(N_opt=math.exp(best.x), loss_opt=float(best.fun))


def holdout(budget, N, D, loss, starts=GRID):
    """Fit the law on every budget but the largest; predict the largest's
    best loss and its optimal N, and compare with its own parabola's."""
    budget, N, D, loss = map(np.asarray, (budget, N, D, loss))
    held = budget == budget.max()
    fit = fit_parametric(N[~held], D[~held], loss[~held], starts)
    predicted = isoflop_optimum(fit, N[held], D[held])
    _, n, d, mean = seed_means(budget[held], N[held], D[held], loss[held])
    measured = isoflop_minimum(n, d, mean)
    return dict(
        budget=float(budget.max()),
        fit=fit,
        predicted=predicted,
        measured=measured,
        loss_error=predicted["loss_opt"] / measured["loss_opt"] - 1,
        N_opt_error=predicted["N_opt"] / measured["N_opt"] - 1,
    )


# --- the fit's uncertainty ---------------------------------------------------

PARAMETERS = ("E", "A", "B", "alpha", "beta", "a", "b")


def bootstrap(N, D, loss, n=200, seed=0, starts=GRID):
    """95% intervals (2.5th and 97.5th percentiles) of each parameter over
    `n` fits to resamples of the runs, drawn with replacement.

    Each resample is fitted from the full grid of starts, not from the
    fit to all runs: a warm start keeps every fit near one minimum and
    makes the intervals too narrow (Besiroglu et al., 2024).
    """
    N, D, loss = map(np.asarray, (N, D, loss))
    rng = np.random.default_rng(seed)
    fits = []
    for _ in range(n):
        i = rng.integers(0, len(loss), len(loss))
        fits.append(fit_parametric(N[i], D[i], loss[i], starts))
    intervals = {}
    for name in PARAMETERS:
        low, high = np.percentile([f[name] for f in fits], [2.5, 97.5])
        intervals[name] = (float(low), float(high))
    return intervals


# --- repeated data -----------------------------------------------------------


def effective_tokens(unique_tokens, epochs, r_star):
    """Muennighoff et al.'s effective data: D' = U + U R* (1 - e^(-R/R*)),
    for R = epochs - 1 repetitions of U unique tokens.  Each repetition is
    worth less than the last; R* is the repetitions at which they have
    decayed to 1/e of a fresh epoch's worth."""
    R = np.asarray(epochs, dtype=float) - 1
    return unique_tokens + unique_tokens * r_star * (1 - np.exp(-R / r_star))


def fit_repetition(unique_tokens, epochs, loss, B, beta):
    """R* from the losses of one model size trained for several epochs of
    `unique_tokens` tokens, modelled as L = E' + B / D'^beta.

    B and beta, the data term, come from the parametric fit: five runs
    cannot pin down three more numbers.  E' takes in the model-size term
    A / N^alpha and the law's error at this size; for a given R* the best
    E' is a mean, so scipy searches R* alone (log R*, from 0.1 to 1000),
    by squared error on the loss.
    """
    loss = np.asarray(loss, dtype=float)

    def data_term(log_r):
        D = effective_tokens(unique_tokens, epochs, math.exp(log_r))
        return B / D**beta

    def error(log_r):
        rest = loss - data_term(log_r)
        return float(np.sum((rest - rest.mean()) ** 2))

    best = minimize_scalar(error, bounds=(math.log(0.1), math.log(1000)))
    r_star = math.exp(best.x)
    E_prime = float(np.mean(loss - data_term(best.x)))
    return dict(R_star=r_star, E_prime=E_prime)


# --- the command line --------------------------------------------------------

EPILOG = """example (three budgets, seven shapes each, three seeds):
  python -m scratchllm.scaling --tokens build/artifacts/tokens \\
      --budgets 1e13 3e13 1e14 --seeds 0 1 2 --device cuda --out sweep.json
and the repetition experiment, 1 to 16 epochs of 1M tokens:
  python -m scratchllm.scaling --tokens build/artifacts/tokens \\
      --budgets --repetition 1 2 4 8 16 --unique-tokens 1000000 \\
      --repetition-shape 2L-4H-128d --out repetition.json
"""

# TrainConfig fields each run sets itself (run_config).
TRAIN_SKIP = (
    "max_steps warmup_steps eval_interval log_interval seed"
    " checkpoint_path checkpoint_interval"
).split()
MODEL_SKIP = ("n_layer n_head n_embd block_size vocab_size n_hidden").split()


def shape(text):
    """An argparse type: a Shape, e.g. 4L-4H-128d."""
    try:
        return Shape.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def make_parser():
    parser = argparse.ArgumentParser(
        prog="python -m scratchllm.scaling",
        description=(
            "Train the runs of an IsoFLOP sweep on DIR/train.bin, validating"
            " on DIR/val.bin, and write their losses as JSON."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tokens", required=True, metavar="DIR", type=Path)
    parser.add_argument("--out", required=True, metavar="FILE", type=Path)
    parser.add_argument(
        "--budgets",
        nargs="*",
        type=float,
        default=[1e13, 3e13, 1e14],
        metavar="FLOPS",
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        type=shape,
        help="shapes for every budget (default: 7 around each's optimum)",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--repetition",
        nargs="+",
        type=float,
        metavar="EPOCHS",
        help="also train --repetition-shape for these epochs",
    )
    parser.add_argument("--unique-tokens", type=at_least(1), default=10**6)
    parser.add_argument(
        "--repetition-shape", type=shape, default=Shape(2, 4, 128)
    )
    add_fields(parser, TrainConfig, skip=TRAIN_SKIP)
    add_fields(parser, GPTConfig, skip=MODEL_SKIP)
    # Tiny models learn best at higher rates than GPT-2 small's 6e-4.
    parser.set_defaults(max_lr=2e-3, min_lr=2e-4, batch_size=32)
    return parser


def sweep_configs(args, vocab_size):
    """The TrainConfig and the GPTConfig every run of a parsed command line
    starts from (this module's or scripts/gpu_scaling.py's)."""
    train_config = TrainConfig(**field_values(args, TrainConfig, TRAIN_SKIP))
    model_config = GPTConfig(
        **field_values(args, GPTConfig, MODEL_SKIP),
        block_size=args.block_size,
        vocab_size=vocab_size,
    )
    return train_config, model_config


def describe(record):
    """One line of a finished run, as the command lines print it."""
    return (
        f"{record['name']} C {record['flops']:.3g} D {record['tokens']}"
        f" seed {record['seed']}: val loss {record['val_loss']:.4f}"
        f" ({record['epochs']:.2f} epochs, {record['seconds']:.1f} s)"
    )


def run_sweep(args):
    """The runs the parsed command line asks for, written to args.out."""
    train_tokens, val_tokens, vocab_size = read_splits(
        args.tokens, args.block_size
    )
    train_config, model_config = sweep_configs(args, vocab_size)
    runs = plan_sweep(args.budgets, model_config, train_config, args.shapes)
    if args.repetition:
        runs += plan_repetition(
            args.repetition_shape,
            args.unique_tokens,
            args.repetition,
            model_config,
            train_config,
        )
    if train_config.device.startswith("cuda"):
        torch.set_float32_matmul_precision("high")
    records = []

    def done(record):
        records.append(record)
        text = json.dumps(dict(runs=records), indent=1).encode()
        atomic_write(args.out, lambda f: f.write(text))
        print(describe(record), flush=True)

    print(f"{len(runs)} runs x {len(args.seeds)} seeds", file=sys.stderr)
    sweep(
        runs,
        train_tokens,
        val_tokens,
        model_config,
        train_config,
        args.seeds,
        callback=done,
    )


def main(argv=None):
    parser = make_parser()
    run_command(parser, run_sweep, parser.parse_args(argv))


if __name__ == "__main__":
    main()
