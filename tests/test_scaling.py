"""scratchllm.scaling: the planner spends each budget, the fits recover the
laws that made synthetic data, the bootstrap re-fits from the whole grid,
and a sweep trains, records and writes its runs."""

import json
import math
import time

import numpy as np
import pytest

from scratchllm import scaling
from scratchllm.config import GPTConfig
from scratchllm.dataset import write_tokens
from scratchllm.scaling import (
    GRID,
    MIN_STEPS,
    Shape,
    allocation,
    bootstrap,
    counts,
    effective_tokens,
    fit_isoflop,
    fit_parametric,
    fit_repetition,
    holdout,
    plan_isoflop,
    plan_repetition,
    plan_sweep,
    predict,
    shaped,
    shapes_around,
    sweep,
    train_run,
)
from scratchllm.train import TrainConfig, cosine_lr

pytestmark = pytest.mark.usefixtures("one_thread")

V = 64
MODEL = GPTConfig(block_size=16, vocab_size=V, n_layer=1, n_head=1, n_embd=16)
TRAIN = TrainConfig(batch_size=4, block_size=16, eval_batches=2, max_lr=3e-3)
SMALL = Shape(1, 1, 16)
# Chinchilla's fit (Hoffmann et al., 2022), the law of the synthetic data.
LAW = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def budget_for(shape, steps, model=MODEL, train=TRAIN):
    """The FLOPs of `steps` steps of `shape`."""
    per_token = counts(shaped(model, shape))["flops_per_token"]
    return steps * per_token * train.tokens_per_step


# --- counting and planning ----------------------------------------------------


def test_counts_are_the_models_own():
    config = GPTConfig(block_size=64, vocab_size=512, n_layer=2, n_head=2, n_embd=64)
    model = scaling.GPT(config)
    assert counts(config) == dict(
        params=model.num_params(non_embedding=False),
        params_non_embedding=model.num_params(non_embedding=True),
        flops_per_token=model.flops_per_token(),
    )


def test_shape_names_parse_back():
    assert Shape.parse("4L-2H-128d") == Shape(4, 2, 128)
    assert Shape.parse(Shape(1, 1, 32).name) == Shape(1, 1, 32)
    for text in ("4x4x128", "4L-4H-128", "4L-4H-128d "):
        with pytest.raises(ValueError, match="no shape like"):
            Shape.parse(text)


def test_shapes_around_are_spaced_evenly_in_log_n():
    model = GPTConfig(block_size=64, vocab_size=512)
    shapes = shapes_around(1e6, model, count=7, factor=2.0)
    assert len(shapes) == 7
    params = [counts(shaped(model, s))["params"] for s in shapes]
    assert params == sorted(params)
    steps = np.diff(np.log(params))
    assert np.all(np.abs(steps - math.log(2)) < 0.5 * math.log(2))
    assert steps.mean() == pytest.approx(math.log(2), abs=0.05)
    assert abs(np.log(params).mean() - math.log(1e6)) < 0.2


def test_shapes_around_a_size_below_the_family_start_at_its_smallest():
    model = GPTConfig(block_size=64, vocab_size=512)
    smallest = min(scaling.family(), key=lambda s: counts(shaped(model, s))["params"])
    shapes = shapes_around(10, model, count=5)
    assert len(shapes) == 5 and shapes[0] == smallest


def test_planned_runs_spend_their_budget_within_one_percent():
    model = GPTConfig(block_size=64, vocab_size=512)
    train = TrainConfig(batch_size=8, block_size=64)
    budgets = [1e13, 3e13, 1e14]
    runs = plan_sweep(budgets, model, train)
    assert {r.budget for r in runs} == set(budgets)
    assert all(sum(r.budget == C for r in runs) >= 5 for C in budgets)
    for r in runs:
        n = counts(shaped(model, r.shape))
        assert abs(r.flops / r.budget - 1) < 0.01
        assert r.tokens == r.steps * train.tokens_per_step >= MIN_STEPS * train.tokens_per_step
        assert r.flops == n["flops_per_token"] * r.tokens
        assert (r.params, r.params_non_embedding) == (n["params"], n["params_non_embedding"])


def test_a_shape_too_large_for_the_budget_is_left_out():
    big = Shape(2, 2, 64)
    budget = budget_for(SMALL, 200)
    assert budget_for(big, MIN_STEPS) > budget  # fewer than MIN_STEPS steps
    runs = plan_isoflop(budget, [SMALL, big], MODEL, TRAIN)
    assert [r.shape for r in runs] == [SMALL]
    assert runs[0].steps == 200


def test_repetition_runs_see_the_unique_tokens_for_each_number_of_epochs():
    runs = plan_repetition(SMALL, 640, [1, 2, 4], MODEL, TRAIN)
    assert [r.tokens for r in runs] == [640, 1280, 2560]
    assert all(r.unique_tokens == 640 and r.flops == r.budget for r in runs)


# --- training -----------------------------------------------------------------


def test_each_run_has_its_own_schedule():
    for steps, warmup in ((60, 3), (1000, 50), (10_000, 100)):
        run = scaling.Run(SMALL, 1.0, steps, 64 * steps, 1.0, 1, 1)
        config = scaling.run_config(run, TRAIN, seed=7)
        assert (config.max_steps, config.warmup_steps, config.seed) == (steps, warmup, 7)
        # One evaluation, at the last step, where the cosine reaches min_lr.
        assert config.eval_interval == config.log_interval == steps
        assert cosine_lr(steps, 1.0, 0.1, warmup, config.max_steps) == 0.1


def tokens(n, seed):
    return np.random.default_rng(seed).integers(0, V, n).astype(np.uint16)


def test_train_run_trains_the_planned_steps_and_records_them():
    (run,) = plan_isoflop(budget_for(SMALL, MIN_STEPS), [SMALL], MODEL, TRAIN)
    train, val = tokens(4000, 0), tokens(1000, 1)
    record = train_run(run, train, val, MODEL, TRAIN, seed=3)
    assert record["steps"] == MIN_STEPS and record["seed"] == 3
    assert record["name"] == "1L-1H-16d" and record["shape"] == dict(n_layer=1, n_head=1, n_embd=16)
    per_token = counts(shaped(MODEL, SMALL))["flops_per_token"]
    assert record["flops"] == per_token * record["tokens"] == per_token * MIN_STEPS * 64
    assert record["epochs"] == pytest.approx(MIN_STEPS * 64 / 4000)
    assert record["seconds"] > 0
    # Random tokens: nothing to learn beyond their frequencies, log 64 = 4.16.
    assert 3.9 < record["val_loss"] < 4.4
    again = train_run(run, train, val, MODEL, TRAIN, seed=3)
    other = train_run(run, train, val, MODEL, TRAIN, seed=4)
    assert again["val_loss"] == record["val_loss"] != other["val_loss"]


def test_a_repetition_run_trains_on_the_unique_tokens_alone():
    (run,) = plan_repetition(SMALL, 640, [4], MODEL, TRAIN)
    train, val = tokens(4000, 0), tokens(1000, 1)
    record = train_run(run, train, val, MODEL, TRAIN, seed=0)
    assert record["epochs"] == pytest.approx(4, rel=0.05)
    # The same run on a split whose first 640 tokens are the same.
    changed = train.copy()
    changed[700:] = 0
    assert train_run(run, changed, val, MODEL, TRAIN, seed=0)["val_loss"] == record["val_loss"]


def test_sweep_runs_seed_by_seed_and_stops_at_the_deadline():
    runs = [
        scaling.Run(SMALL, 1.0, 2, 128, 1.0, 10, 1),
        scaling.Run(SMALL, 2.0, 3, 192, 2.0, 10, 1),
    ]
    train, val = tokens(2000, 0), tokens(500, 1)
    seen = []
    records = sweep(runs, train, val, MODEL, TRAIN, [5, 6], callback=seen.append)
    assert records == seen
    assert [(r["seed"], r["steps"]) for r in records] == [(5, 2), (5, 3), (6, 2), (6, 3)]
    budget, N, D, loss = scaling.columns(records, params="params_non_embedding")
    assert list(budget) == [1.0, 2.0] * 2 and list(N) == [1.0] * 4
    assert list(D) == [128, 192] * 2 and list(loss) == [r["val_loss"] for r in records]
    late = sweep(runs, train, val, MODEL, TRAIN, [5], deadline=time.perf_counter() - 1)
    assert late == []


# --- Approach 2 ---------------------------------------------------------------


def isoflop_data(a=0.45, budgets=(1e15, 1e16, 1e17, 1e18)):
    """Losses on exact parabolas in log N whose minima lie at 0.1 C^a, two
    seeds each, one above and one below the parabola."""
    rows = []
    for C in budgets:
        n_opt = 0.1 * C**a
        for k in np.linspace(-1.5, 1.5, 7):
            N = n_opt * math.exp(k)
            loss = 2 + 10 / math.log(C) + 0.1 * k**2
            rows += [(C, N, C / (6 * N), loss + d) for d in (0.01, -0.01)]
    return map(np.array, zip(*rows, strict=True))


def test_isoflop_fit_recovers_the_exponents():
    budget, N, D, loss = isoflop_data(a=0.45)
    fit = fit_isoflop(budget, N, D, loss)
    assert fit["a"] == pytest.approx(0.45, abs=1e-6)
    assert fit["b"] == pytest.approx(0.55, abs=1e-6)  # D = C / 6N
    assert fit["k_N"] == pytest.approx(0.1, rel=1e-4)
    for m in fit["minima"]:
        assert m["loss_opt"] == pytest.approx(2 + 10 / math.log(m["C"]))
        assert m["inside"]


def test_isoflop_fit_refuses_a_curve_without_minimum():
    budget, N, D, loss = isoflop_data()
    with pytest.raises(ValueError, match="no minimum"):
        fit_isoflop(budget, N, D, -loss)


# --- Approach 3 ---------------------------------------------------------------


def law_data(noise=0.0, seed=0):
    """Losses of LAW on a grid of 6 x 6 (N, D), times log-normal noise."""
    N, D = (a.ravel() for a in np.meshgrid(np.geomspace(1e6, 1e9, 6), np.geomspace(1e8, 1e11, 6)))
    noise = np.exp(np.random.default_rng(seed).normal(0, noise, N.size))
    return N, D, predict(LAW, N, D) * noise


def test_parametric_fit_recovers_the_law_from_exact_losses():
    fit = fit_parametric(*law_data())
    for name, value in LAW.items():
        assert fit[name] == pytest.approx(value, rel=1e-3), name
    assert fit["a"] == pytest.approx(0.28 / 0.62, rel=1e-3)
    assert fit["b"] == pytest.approx(0.34 / 0.62, rel=1e-3)


def test_parametric_fit_recovers_the_exponents_through_noise():
    fit = fit_parametric(*law_data(noise=0.002))
    assert fit["alpha"] == pytest.approx(0.34, abs=0.03)
    assert fit["beta"] == pytest.approx(0.28, abs=0.03)
    assert fit["E"] == pytest.approx(1.69, rel=0.05)


def test_parametric_fit_keeps_the_best_start():
    # From this start alone L-BFGS-B stops far from the law.
    lonely = fit_parametric(*law_data(), starts=[(0.0, 0.0, -1.0, 0.0, 1.0)])
    both = fit_parametric(*law_data(), starts=[(0.0, 0.0, -1.0, 0.0, 1.0), GRID[-1]])
    assert lonely["objective"] > 1
    assert both["alpha"] == pytest.approx(0.34, rel=1e-3)


def test_allocation_minimises_the_law_at_fixed_compute():
    C = 1e21
    best = allocation(LAW, C)
    N = np.geomspace(1e8, 1e11, 20001)
    losses = predict(LAW, N, C / (6 * N))
    assert best["N_opt"] == pytest.approx(N[np.argmin(losses)], rel=1e-3)
    assert best["D_opt"] * best["N_opt"] * 6 == pytest.approx(C)
    assert best["tokens_per_param"] == pytest.approx(best["D_opt"] / best["N_opt"])


def test_holdout_predicts_the_largest_budget_from_the_others():
    rows = []
    for C in (1e17, 1e18, 1e19, 1e20):
        N_opt = allocation(LAW, C)["N_opt"]
        for N in N_opt * np.geomspace(0.25, 4, 7):
            rows.append((C, N, C / (6 * N), float(predict(LAW, N, C / (6 * N)))))
    budget, N, D, loss = map(np.array, zip(*rows, strict=True))
    result = holdout(budget, N, D, loss)
    assert result["budget"] == 1e20
    assert result["fit"]["alpha"] == pytest.approx(0.34, rel=1e-3)
    truth = allocation(LAW, 1e20)
    assert result["predicted"]["N_opt"] == pytest.approx(truth["N_opt"], rel=0.01)
    assert abs(result["loss_error"]) < 0.002
    assert abs(result["N_opt_error"]) < 0.1


# --- the bootstrap ------------------------------------------------------------


def test_bootstrap_refits_every_resample_from_the_whole_grid(monkeypatch):
    N, D, loss = law_data(noise=0.01)
    starts = GRID[:3]
    calls = []

    def fit(N, D, loss, starts):
        calls.append((len(loss), starts))
        return fit_parametric(N, D, loss, starts)

    monkeypatch.setattr(scaling, "fit_parametric", fit)
    intervals = bootstrap(N, D, loss, n=4, seed=1, starts=starts)
    assert calls == [(36, starts)] * 4
    assert set(intervals) == {"E", "A", "B", "alpha", "beta", "a", "b"}
    assert all(lo <= hi for lo, hi in intervals.values())


def test_bootstrap_is_the_same_for_a_seed():
    N, D, loss = law_data(noise=0.01)
    one = bootstrap(N, D, loss, n=3, seed=1, starts=GRID[-2:])
    assert bootstrap(N, D, loss, n=3, seed=1, starts=GRID[-2:]) == one
    assert bootstrap(N, D, loss, n=3, seed=2, starts=GRID[-2:]) != one


# --- repeated data --------------------------------------------------------------


def test_effective_tokens():
    U = 1000
    assert effective_tokens(U, 1, 5.0) == U  # one epoch: nothing repeated
    assert effective_tokens(U, 4, 1e9) == pytest.approx(4 * U)  # R* large: all fresh
    assert effective_tokens(U, 1000, 5.0) == pytest.approx(U * 6)  # at most U (1 + R*)


def test_repetition_fit_recovers_r_star():
    U, epochs = 1e6, np.array([1, 2, 4, 8, 16])
    B, beta = LAW["B"], LAW["beta"]
    loss = 2.5 + B / effective_tokens(U, epochs, 5.0) ** beta
    fit = fit_repetition(U, epochs, loss, B, beta)
    assert fit["R_star"] == pytest.approx(5.0, rel=1e-3)
    assert fit["E_prime"] == pytest.approx(2.5, rel=1e-6)


# --- the command line ---------------------------------------------------------


def test_the_command_line_writes_every_run(tmp_path, capsys):
    write_tokens(tmp_path / "train.bin", tokens(4000, 0), V)
    write_tokens(tmp_path / "val.bin", tokens(1000, 1), V)
    out = tmp_path / "sweep.json"
    budget = budget_for(SMALL, 60)
    argv = ["--tokens", tmp_path, "--out", out, "--budgets", budget, "--seeds", 0, 1]
    argv += ["--shapes", "1L-1H-16d", "1L-2H-32d", "--block-size", 16, "--batch-size", 4]
    argv += ["--eval-batches", 2, "--repetition", 1, 2, "--unique-tokens", 2000]
    argv += ["--repetition-shape", "1L-1H-16d", "--n-embd", 99]  # not a field here
    with pytest.raises(SystemExit):
        scaling.main([str(a) for a in argv])
    capsys.readouterr()
    scaling.main([str(a) for a in argv[:-2]])
    lines = capsys.readouterr().out.splitlines()
    runs = json.loads(out.read_text())["runs"]
    # 1L-2H-32d cannot take MIN_STEPS steps in the budget: 1 + 2 runs a seed.
    assert len(runs) == len(lines) == 6
    assert [(r["name"], r["seed"]) for r in runs][:3] == [("1L-1H-16d", 0)] * 3
    assert [r["unique_tokens"] for r in runs] == [None, 2000, 2000] * 2
    assert all(abs(r["flops"] / r["budget"] - 1) < 0.01 for r in runs)
    assert [r["tokens"] for r in runs[1:3]] == [31 * 64, 62 * 64]  # 2000 / 64 = 31.25
    assert lines[0].startswith("1L-1H-16d C ") and "seed 0: val loss " in lines[0]


def test_the_command_line_refuses_a_shape_it_cannot_read(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        scaling.main(["--tokens", str(tmp_path), "--out", "x.json", "--shapes", "4x4"])
    assert exit.value.code == 2
    assert "4L-4H-128d" in capsys.readouterr().err
