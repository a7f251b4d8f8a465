#!/usr/bin/env python3
"""Writes the PyTorch reference values that ferrograd's tests compare against.

Outputs (paths relative to the repository root):
  tests/data/torch_reference.json     op cases, read by tests/torch_reference.rs
  nn/tests/data/optim_reference.json  optimiser cases, read by nn/tests/optim_reference.rs

Everything is float64 on the CPU and deterministic: each case draws its inputs from its
own generator, seeded from the case's name, so adding a case never changes another.

    .venv/bin/python scripts/torch_reference/generate.py            # rewrite both files
    .venv/bin/python scripts/torch_reference/generate.py --check    # fail if they differ
    .venv/bin/python scripts/torch_reference/generate.py --compare OTHER.json
        # recompute OTHER.json's op cases from its own inputs with the definitions below
        # and report the largest difference (a consistency check against a third party)
"""

import argparse
import json
import math
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
OPS_PATH = ROOT / "tests" / "data" / "torch_reference.json"
OPTIM_PATH = ROOT / "nn" / "tests" / "data" / "optim_reference.json"
REGENERATE = "python scripts/torch_reference/generate.py (see scripts/torch_reference/README.md)"

DTYPE = torch.float64

# Input domains, as in tests/common/mod.rs (`Domain`).
NORMAL, POSITIVE, AWAY_FROM_ZERO = "normal", "positive", "away_from_zero"

# Fixed operands the Rust expressions (`apply` in tests/common/mod.rs) hard-code too.
CE_TARGETS = [0, 3, 1, 1, 2]
ROW_INDICES = [2, 0, 2, 3]
GATHER_COLS = [2, 0, 1, 1]
FILL_VALUE = -7.0


def mask34():
    # Every third element of a [3, 4] tensor (flat index), like `mask34` in Rust.
    return torch.tensor([1.0 if i % 3 == 0 else 0.0 for i in range(12)], dtype=DTYPE).reshape(3, 4)


def seed_of(name):
    # crc32 rather than hash(): Python salts str hashes per process.
    return zlib.crc32(name.encode())


def draw(rng, shape, domain):
    if domain == NORMAL:
        x = rng.standard_normal(shape)
    elif domain == POSITIVE:
        x = rng.uniform(0.5, 2.0, shape)
    elif domain == AWAY_FROM_ZERO:
        x = rng.standard_normal(shape)
        # Off the kink of relu/abs by a margin f32 rounding cannot cross.
        x = np.where(np.abs(x) < 0.1, x + 0.3, x)
    else:
        raise ValueError(domain)
    return torch.tensor(np.asarray(x, dtype=np.float64).reshape(shape), dtype=DTYPE)


def top2_gap(t, dim):
    """Smallest gap between the largest and second-largest entry along `dim`
    (over all entries when `dim` is None)."""
    if dim is None:
        t = t.reshape(-1, 1)
        dim = 0
    top = torch.topk(t, 2, dim=dim).values
    return (top.select(dim, 0) - top.select(dim, 1)).min().item()


# A winner decided by less than this could change when the inputs are rounded to f32
# (the test runs every case in f32 too), and a tie would make the gradient ambiguous.
MIN_GAP = 1e-3


def softmax_attention(q, k, v):
    d = q.shape[1]
    return torch.softmax(q @ k.T / math.sqrt(d), dim=1) @ v


def argmax_attention(q, k, v):
    winners = torch.argmax(q @ k.T, dim=1)
    return F.one_hot(winners, k.shape[0]).to(DTYPE) @ v


def quadratic_kernel_attention(q, k, v):
    s = (q @ k.T + 1.0) ** 2
    return (s @ v) / s.sum(dim=1, keepdim=True)


QKV = [("q", [3, 8], NORMAL), ("k", [6, 8], NORMAL), ("v", [6, 4], NORMAL)]
X34 = [("x", [3, 4], NORMAL)]
XY35 = [("x", [3, 5], NORMAL), ("y", [3, 5], NORMAL)]
XY46 = [("x", [4, 6], NORMAL), ("y", [4, 6], NORMAL)]


def attention_scores_gap(ins):
    return top2_gap(ins["q"] @ ins["k"].T, 1)


# name -> (inputs [(name, shape, domain)], expression, note, optional acceptance check).
# The names and the input order are those of the OPS table in tests/common/mod.rs.
OPS = [
    ("matmul", [("a", [7, 13], NORMAL), ("b", [13, 5], NORMAL)], lambda a, b: a @ b, "a @ b"),
    ("matmul_a_t", [("a", [13, 7], NORMAL), ("b", [13, 5], NORMAL)], lambda a, b: a.T @ b, "a^T @ b"),
    ("matmul_b_t", [("a", [7, 13], NORMAL), ("b", [5, 13], NORMAL)], lambda a, b: a @ b.T, "a @ b^T"),
    ("matmul_a_t_b_t", [("a", [13, 7], NORMAL), ("b", [5, 13], NORMAL)], lambda a, b: a.T @ b.T, "a^T @ b^T"),
    ("matmul_self_b_t", [("x", [4, 3], NORMAL)], lambda x: x @ x.T, "x @ x^T (one input used twice)"),
    ("add_row_broadcast", [("x", [4, 6], NORMAL), ("b", [6], NORMAL)], lambda x, b: x + b,
     "x + b, b broadcast over rows (bias)"),
    ("add_col_row_broadcast", [("c", [4, 1], NORMAL), ("r", [1, 6], NORMAL)], lambda c, r: c + r,
     "c + r, [4,1] + [1,6] -> [4,6]"),
    ("mul_col_row_broadcast", [("c", [4, 1], NORMAL), ("r", [1, 6], NORMAL)], lambda c, r: c * r,
     "c * r, [4,1] * [1,6] -> [4,6]"),
    ("div_col_row_broadcast", [("c", [4, 1], NORMAL), ("r", [1, 6], POSITIVE)], lambda c, r: c / r,
     "c / r, [4,1] / [1,6] -> [4,6]"),
    ("sub", XY35, lambda x, y: x - y, "x - y"),
    ("mul", XY35, lambda x, y: x * y, "elementwise x * y"),
    ("div", [("x", [3, 5], NORMAL), ("y", [3, 5], POSITIVE)], lambda x, y: x / y, "elementwise x / y"),
    ("scale", X34, lambda x: 2.5 * x, "2.5 * x"),
    ("add_scalar", X34, lambda x: x + 1.5, "x + 1.5"),
    ("rsub_scalar", X34, lambda x: 1.5 - x, "1.5 - x"),
    ("neg", X34, lambda x: -x, "-x"),
    ("relu", [("x", [5, 6], AWAY_FROM_ZERO)], torch.relu, "relu (no input within 0.1 of 0)"),
    ("abs", [("x", [3, 4], AWAY_FROM_ZERO)], torch.abs, "abs (no input within 0.1 of 0)"),
    ("exp", X34, torch.exp, "exp"),
    ("log", [("x", [3, 4], POSITIVE)], torch.log, "natural log"),
    ("tanh", X34, torch.tanh, "tanh"),
    ("sigmoid", X34, torch.sigmoid, "logistic sigmoid"),
    ("square", X34, torch.square, "x^2"),
    ("sqrt", [("x", [3, 4], POSITIVE)], torch.sqrt, "sqrt"),
    ("powi3", X34, lambda x: torch.pow(x, 3), "x^3 (integer power)"),
    ("powi_neg2", [("x", [3, 4], POSITIVE)], lambda x: torch.pow(x, -2), "x^-2 (integer power)"),
    ("sum_all", X34, torch.sum, "sum of all elements -> scalar"),
    ("mean_all", X34, torch.mean, "mean of all elements -> scalar"),
    ("sum_rows", X34, lambda x: x.sum(dim=1), "sum over the last axis -> [3]"),
    ("sum_cols", X34, lambda x: x.sum(dim=0), "sum over the first axis -> [4]"),
    ("mean_rows_keepdim", X34, lambda x: x.mean(dim=1, keepdim=True), "mean over the last axis, keepdim -> [3,1]"),
    ("sum_axis_rank3", [("x", [2, 3, 4], NORMAL)], lambda x: x.sum(dim=1), "sum over axis 1 of a rank-3 tensor -> [2,4]"),
    ("sum_rows_square", [("x", [4, 4], NORMAL)], lambda x: x.sum(dim=1), "sum over the last axis of a square matrix -> [4]"),
    ("row_normalise_square", [("x", [4, 4], NORMAL)],
     lambda x: torch.exp(x) / torch.exp(x).sum(dim=1, keepdim=True),
     "exp(x) / sum_rows(exp(x), keepdim) on a square matrix (softmax spelt out)"),
    ("center_rows_square", [("x", [4, 4], NORMAL)], lambda x: x - x.mean(dim=1, keepdim=True),
     "x - mean_rows(x, keepdim) on a square matrix"),
    ("transpose", X34, lambda x: x.T, "2-D transpose"),
    ("reshape", X34, lambda x: x.reshape(4, 3) ** 2, "reshape [3,4] -> [4,3], then square"),
    ("max_all", X34, torch.max, "largest element -> scalar (no near-ties in the input)",
     lambda ins: top2_gap(ins["x"], None)),
    ("max_axis0", X34, lambda x: x.max(dim=0).values, "max over axis 0 -> [4] (no near-ties)",
     lambda ins: top2_gap(ins["x"], 0)),
    ("max_axis1_keepdim", X34, lambda x: x.max(dim=1, keepdim=True).values,
     "max over axis 1, keepdim -> [3,1] (no near-ties)", lambda ins: top2_gap(ins["x"], 1)),
    ("concat_axis1", [("a", [2, 3], NORMAL), ("b", [2, 2], NORMAL)], lambda a, b: torch.cat([a, b], dim=1),
     "cat([a, b], dim=1)"),
    ("concat_axis0_reused", [("a", [2, 3], NORMAL), ("b", [1, 3], NORMAL)],
     lambda a, b: torch.cat([a, b, a], dim=0), "cat([a, b, a], dim=0) (a used twice)"),
    ("narrow_cols", [("x", [4, 5], NORMAL)], lambda x: x.narrow(1, 1, 3), "x.narrow(1, 1, 3): columns 1..4"),
    ("narrow_rows", [("x", [4, 5], NORMAL)], lambda x: x.narrow(0, 2, 2), "x.narrow(0, 2, 2): rows 2..4"),
    ("index_select_rows", [("x", [4, 3], NORMAL)],
     lambda x: x.index_select(0, torch.tensor(ROW_INDICES)), f"x.index_select(0, {ROW_INDICES}) (row 2 twice)"),
    ("gather_cols", [("x", [4, 3], NORMAL)],
     lambda x: x.gather(1, torch.tensor(GATHER_COLS).unsqueeze(1)).squeeze(1),
     f"x.gather(1, {GATHER_COLS}) -> [4]: one element per row"),
    ("mul_mask", X34, lambda x: x * mask34(), "x * mask, mask = 1 at flat indices 0, 3, 6, 9"),
    ("masked_fill", X34, lambda x: x.masked_fill(mask34().bool(), FILL_VALUE) ** 2,
     f"x.masked_fill(mask, {FILL_VALUE}) ** 2, mask = 1 at flat indices 0, 3, 6, 9"),
    ("softmax_rows", [("x", [4, 7], NORMAL)], lambda x: torch.softmax(x, dim=1), "softmax over the last axis"),
    ("log_softmax_rows", [("x", [4, 7], NORMAL)], lambda x: torch.log_softmax(x, dim=1), "log_softmax over the last axis"),
    ("softmax_large_logits", [("x", [2, 3], NORMAL)], lambda x: torch.softmax(30.0 * x, dim=1),
     "softmax(30 x) over the last axis (logits large enough to overflow exp without the max shift)"),
    ("mse_mean", XY46, F.mse_loss, "nn.MSELoss() (mean over all elements)"),
    ("mse_sum", XY46, lambda x, y: F.mse_loss(x, y, reduction="sum"), "nn.MSELoss(reduction='sum')"),
    ("sq_err_per_sample_mean", XY46, lambda x, y: ((x - y) ** 2).sum(dim=1).mean(),
     "mean over the batch of the squared L2 norm of each row's error (the homework's autoencoder loss)"),
    ("cross_entropy", [("x", [5, 4], NORMAL)], lambda x: F.cross_entropy(x, torch.tensor(CE_TARGETS)),
     "nn.CrossEntropyLoss() (mean), integer targets in 'targets'"),
    ("linear", [("x", [4, 5], NORMAL), ("w", [3, 5], NORMAL), ("b", [3], NORMAL)], F.linear,
     "nn.Linear: x @ w^T + b, w is [out, in] like PyTorch"),
    ("linear_no_bias", [("x", [4, 5], NORMAL), ("w", [3, 5], NORMAL)], F.linear,
     "nn.Linear(bias=False): x @ w^T"),
    ("softmax_attention", QKV, softmax_attention, "softmax(q k^T / sqrt(d)) v with d = 8"),
    ("argmax_attention", QKV, argmax_attention,
     "one_hot(argmax(q k^T)) v: PyTorch has no gradient w.r.t. q and k (ours must be exactly zero); "
     "no near-ties among the scores", attention_scores_gap),
    ("quadratic_kernel_attention", QKV, quadratic_kernel_attention,
     "eq. 6 with sim(q,k) = (q.k + 1)^2; equals the linearised form with phi(x) = [1, sqrt2 x, vec(x x^T)]"),
]

# Expressions only, by name, for --compare (which brings its own inputs).
EXPRESSIONS = {op[0]: (op[1], op[2]) for op in OPS}


def as_json(t):
    t = t.detach().to(DTYPE).contiguous()
    return {"shape": list(t.shape), "data": [float(x) for x in t.reshape(-1).tolist()]}


def from_json(v):
    return torch.tensor(v["data"], dtype=DTYPE).reshape(v["shape"])


def evaluate(expr, inputs, upstream):
    """Forward value and the gradients of sum(output * upstream); None where PyTorch's
    graph does not reach an input."""
    leaves = {n: t.clone().requires_grad_(True) for n, t in inputs.items()}
    out = expr(*leaves.values())
    grads = torch.autograd.grad(
        (out * upstream).sum(), list(leaves.values()), allow_unused=True
    )
    return out.detach(), dict(zip(leaves, grads))


def op_case(name, specs, expr, note, accept=None):
    rng = np.random.default_rng(seed_of(name))
    for _ in range(1000):
        inputs = {n: draw(rng, shape, domain) for n, shape, domain in specs}
        if accept is None or accept(inputs) > MIN_GAP:
            break
    else:
        raise RuntimeError(f"{name}: no acceptable inputs in 1000 draws")
    with torch.no_grad():
        shape = expr(*inputs.values()).shape
    upstream = torch.tensor(rng.standard_normal(tuple(shape)), dtype=DTYPE).reshape(shape)
    out, grads = evaluate(expr, inputs, upstream)
    case = {"name": name, "note": note, "inputs": {n: as_json(t) for n, t in inputs.items()}}
    if name == "cross_entropy":
        case["targets"] = CE_TARGETS
    case["output"] = as_json(out)
    case["upstream"] = as_json(upstream)
    case["grads"] = {n: as_json(g) for n, g in grads.items() if g is not None}
    return case


# ---- optimisers ------------------------------------------------------------------------

STEPS = 5
OPTIM_LOSS = "sum((w - target)^2) + 0.3 * sum(w^3)"

# Every knob ferrograd's optimisers have (nn/src/optim/), each config written in full
# so the Rust test builds the optimiser from the file alone.
SGD_DEFAULTS = {"lr": 0.05, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}
ADAM_DEFAULTS = {"lr": 0.01, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0}

OPTIMIZERS = [
    ("sgd", "sgd", {}),
    ("sgd_weight_decay", "sgd", {"weight_decay": 0.1}),
    ("sgd_momentum", "sgd", {"momentum": 0.9}),
    ("sgd_momentum_dampening", "sgd", {"momentum": 0.9, "dampening": 0.5}),
    ("sgd_nesterov", "sgd", {"momentum": 0.9, "nesterov": True}),
    ("sgd_all", "sgd", {"lr": 0.03, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.2}),
    ("sgd_nesterov_weight_decay", "sgd", {"momentum": 0.7, "nesterov": True, "weight_decay": 0.2}),
    ("adam", "adam", {}),
    ("adam_weight_decay", "adam", {"weight_decay": 0.1}),
    # eps large enough to move the update visibly, so its placement (after the bias
    # correction of sqrt(v)) is tested, not just its existence.
    ("adam_betas_eps", "adam", {"lr": 0.02, "betas": [0.8, 0.95], "eps": 0.05}),
    ("adamw", "adamw", {"weight_decay": 0.1}),
    ("adamw_no_decay", "adamw", {}),
    ("adamw_betas_eps", "adamw", {"lr": 0.02, "betas": [0.5, 0.9], "eps": 0.05, "weight_decay": 0.3}),
]


def torch_optimizer(kind, config, params):
    if kind == "sgd":
        return torch.optim.SGD(params, **config)
    if kind in ("adam", "adamw"):
        c = dict(config, betas=tuple(config["betas"]))
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        # The single-tensor loop: the reference for the update's exact arithmetic.
        return cls(params, foreach=False, fused=False, **c)
    raise ValueError(kind)


def optim_case(name, kind, overrides):
    config = dict(SGD_DEFAULTS if kind == "sgd" else ADAM_DEFAULTS, **overrides)
    rng = np.random.default_rng(seed_of("optim/" + name))
    w0 = draw(rng, [3, 4], NORMAL)
    target = draw(rng, [3, 4], NORMAL)
    w = w0.clone().requires_grad_(True)
    opt = torch_optimizer(kind, config, [w])
    after = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = ((w - target) ** 2).sum() + 0.3 * (w**3).sum()
        loss.backward()
        opt.step()
        after.append(as_json(w))
    return {
        "name": name,
        "kind": kind,
        "config": config,
        "w0": as_json(w0),
        "target": as_json(target),
        "after_each_step": after,
    }


# ---- output ----------------------------------------------------------------------------


def source():
    return f"PyTorch {torch.__version__}, float64, CPU"


def ops_document():
    return {
        "source": source(),
        "generator": "scripts/torch_reference/generate.py",
        "format": (
            "Each op case: named inputs {shape, data (row-major)}, 'output', an 'upstream' "
            "gradient of the output's shape, and 'grads': the gradient of sum(output * upstream) "
            "with respect to each input; an input missing from 'grads' has no gradient in PyTorch. "
            "'note' says what the case computes in PyTorch terms. All values float64."
        ),
        "ops": [op_case(*op) for op in OPS],
    }


def optim_document():
    return {
        "source": source(),
        "generator": "scripts/torch_reference/generate.py",
        "format": (
            "Each case: 'kind' (sgd | adam | adamw, i.e. torch.optim.SGD / Adam / AdamW) and its "
            "full 'config' (every constructor argument ferrograd's optimiser has); w0 and target "
            f"{{shape, data}}; 'after_each_step': w after each of {STEPS} steps on "
            f"loss(w) = {OPTIM_LOSS}. All values float64."
        ),
        "loss": OPTIM_LOSS,
        "steps": STEPS,
        "optimizers": [optim_case(*o) for o in OPTIMIZERS],
    }


def dump(doc):
    # json writes floats with repr(), which round-trips float64 exactly.
    return json.dumps(doc, indent=1) + "\n"


def compare(path):
    """Recomputes the op cases of another reference file from its own inputs."""
    other = json.loads(Path(path).read_text())
    worst = (0.0, "-")
    unknown = []
    for case in other.get("ops", []):
        name = case["name"]
        if name not in EXPRESSIONS:
            unknown.append(name)
            continue
        specs, expr = EXPRESSIONS[name]
        order = [n for n, _, _ in specs]
        if sorted(order) != sorted(case["inputs"]):
            print(f"{name}: inputs {sorted(case['inputs'])} differ from ours {order}")
            worst = (math.inf, name)
            continue
        inputs = {n: from_json(case["inputs"][n]) for n in order}
        if "targets" in case and case["targets"] != CE_TARGETS:
            print(f"{name}: targets {case['targets']} differ from ours {CE_TARGETS}")
        out, grads = evaluate(expr, inputs, from_json(case["upstream"]))
        errs = [("output", (out - from_json(case["output"])).abs().max().item())]
        for n, g in grads.items():
            theirs = case["grads"].get(n)
            if (g is None) != (theirs is None):
                print(f"{name}: gradient w.r.t. {n} present in only one of the two")
                errs.append((n, math.inf))
            elif g is not None:
                errs.append((n, (g - from_json(theirs)).abs().max().item()))
        what, e = max(errs, key=lambda x: x[1])
        print(f"{name:<28} max |diff| {e:.3e} ({what})")
        if e > worst[0]:
            worst = (e, name)
    print(f"{len(other.get('ops', []))} op cases; worst |diff| {worst[0]:.3e} in {worst[1]}")
    if unknown:
        print(f"cases with no expression here: {unknown}")
    return worst[0] <= 1e-12 and not unknown


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the committed files differ")
    parser.add_argument("--compare", metavar="JSON", help="recompute another file's op cases and report differences")
    args = parser.parse_args()
    torch.set_num_threads(1)  # summation order independent of the machine's core count
    if args.compare:
        sys.exit(0 if compare(args.compare) else 1)
    stale = []
    for path, doc in ((OPS_PATH, ops_document()), (OPTIM_PATH, optim_document())):
        text = dump(doc)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        n = len(doc.get("ops", doc.get("optimizers")))
        print(f"wrote {path.relative_to(ROOT)}: {n} cases ({source()})")
    if stale:
        print("out of date: " + ", ".join(str(p.relative_to(ROOT)) for p in stale) + f"; regenerate with {REGENERATE}")
        sys.exit(1)


if __name__ == "__main__":
    main()
