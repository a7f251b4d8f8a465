#!/usr/bin/env python3
"""PyTorch baseline of ferrograd's `examples/autoencoders_synthetic.rs` (the full sweep).

The same work as `target/release/examples/autoencoders_synthetic` with no flags:

- data (the CS182 notebook's SyntheticDataset, as `course/src/synthetic.rs`): n = 20 000
  rows of d = 100, z ~ N(0, diag(10 * 1_20, 1_80)), label = [z_1 + ... + z_20 > 0],
  x = z U with U a Haar-random rotation (the homework's `svd(randn(d, d))[0]`), float32;
  split in order 14 000 / 4 000 / 2 000 (train / valid / test). Drawn with NumPy here, so
  the same distribution and sizes as ferrograd's, not the same numbers.
- the grid: {vanilla, denoising (x + 0.5 N(0,1)), masked (p = 0.25)} x latent sizes
  {5, 20, 100, 500} x 3 repeats = 36 linear AEs, Linear(100, k) then Linear(k, 100);
  loss = squared error summed over features, averaged over the batch; Adam lr 5e-4,
  10 epochs, batch 100 (shuffled, full batches only).
- after initialisation and after every epoch: the clean validation loss (in chunks of
  1 000) and a linear probe: a fresh Linear(k, 2), Adam lr 1e-3, cross-entropy,
  50 epochs over the 20 batches of 200 validation codes (in order), scored on the 2 000
  test codes. That is 11 probes (11 000 Adam steps) per run.
- as ferrograd also does: the share rho of the label's variance each code explains (at
  init and after training, NumPy eigh), the PCA optimum of the validation split, and the
  probe on 8 random 5-of-20 slices of the label directions (plus the 20 000-draw
  Monte-Carlo ceiling).

Prints the table as ferrograd does, then `training loop: S s` (the sweep of the 36 runs,
the counterpart of ferrograd's `compute: ... in S s of sweep`) and `process time: S s`
(from the first line of this script, so including `import torch` but not the
interpreter's start-up; time the process from outside for the true figure).
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mnist_ae import Autoencoder, squared_error_per_sample, corrupt, validation_loss, \
    train_linear_probe  # noqa: E402


def generate(rng, n=20_000, d=100, k=20, var_scale=10.0, splits=(0.7, 0.2, 0.1)):
    x = rng.standard_normal((n, d))
    x[:, :k] *= math.sqrt(var_scale)
    labels = (x[:, :k].sum(axis=1) > 0).astype(np.int64)
    u, _, _ = np.linalg.svd(rng.standard_normal((d, d)))
    samples = torch.from_numpy((x @ u).astype(np.float32))
    labels = torch.from_numpy(labels)
    n_train, n_valid = int(n * splits[0]), int(n * splits[1])
    ve = n_train + n_valid
    return ((samples[:n_train], labels[:n_train]), (samples[n_train:ve], labels[n_train:ve]),
            (samples[ve:], labels[ve:]), u)


def sign_accuracy(rho):
    return 0.5 + math.asin(math.sqrt(min(max(rho, 0.0), 1.0))) / math.pi


def code_label_share(e, sigma, w):
    """rho = c^T (E S E^T)^+ c / w^T S w, c = E S w (as course::ae_report)."""
    sw = sigma @ w
    c = e @ sw
    vals, vecs = np.linalg.eigh(e @ sigma @ e.T)
    keep = vals > 1e-12 * max(vals.max(), 0.0)
    proj = vecs[:, keep].T @ c
    return float((proj ** 2 / vals[keep]).sum() / (w @ sw))


def run(model, kind, data, args):
    (train_x, _), (valid_x, valid_y), (test_x, test_y) = data
    hist = {"val_loss": [], "probe_acc": []}

    def measure():
        hist["val_loss"].append(validation_loss(model, valid_x))
        with torch.no_grad():
            tf, ef = model.encoder(valid_x), model.encoder(test_x)
        hist["probe_acc"].append(train_linear_probe(tf, valid_y, ef, test_y, 2,
                                                    args.probe_epochs, 200))

    measure()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n = len(train_x)
    for _ in range(args.epochs):
        perm = torch.randperm(n)
        for b in range(n // args.batch_size):
            clean = train_x[perm[b * args.batch_size: (b + 1) * args.batch_size]]
            loss = squared_error_per_sample(model(corrupt(clean, kind, 0.5, 0.25)), clean)
            opt.zero_grad()
            loss.backward()
            opt.step()
        measure()
    return hist


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=182)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--latents", default="5,20,100,500")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--probe-epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--batch-size", type=int, default=100)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    latents = [int(v) for v in args.latents.split(",")]
    k = 20

    rng = np.random.default_rng(args.seed)
    data = generate(rng)
    u = data[3]
    data = data[:3]
    print(f"synthetic data: d = 100, 20 high-variance dims (variance 10), train/valid/test = "
          f"{'/'.join(str(len(s[0])) for s in data)}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, float32")
    print(f"linear AEs, latent sizes {latents}, {args.repeats} repeats, {args.epochs} epochs, "
          f"batch {args.batch_size}, Adam lr {args.lr}; probe: {args.probe_epochs} epochs on all "
          f"validation batches of 200")
    # Population covariance U^T diag(var) U and the label direction w = sum of U's first k rows.
    var = np.ones(100)
    var[:k] = 10.0
    sigma = u.T @ (var[:, None] * u)
    w = u[:k].sum(axis=0)

    t_loop = time.perf_counter()
    results = {}
    job = 0
    for kind in ("vanilla", "denoising", "masked"):
        for latent in latents:
            for _ in range(args.repeats):
                job += 1
                torch.manual_seed(args.seed * 1000 + job)
                model = Autoencoder(100, [latent], activation=torch.nn.Identity)
                e0 = model.encoder[0].weight.detach().double().numpy().copy()
                hist = run(model, kind, data, args)
                e1 = model.encoder[0].weight.detach().double().numpy()
                hist["rho"] = (code_label_share(e0, sigma, w), code_label_share(e1, sigma, w))
                results.setdefault((kind, latent), []).append(hist)
    loop_s = time.perf_counter() - t_loop

    valid_x = data[1][0].double().numpy()
    ev = np.sort(np.linalg.eigvalsh(np.cov(valid_x, rowvar=False)))[::-1]
    pop = np.sort(var)[::-1]
    print(f"\nfinal epoch ({args.epochs}), mean [min, max] over {args.repeats} repeats")
    print(f"{'model':<10} {'latent':>6}  {'probe accuracy %':>26}  {'validation loss':>28}  "
          f"{'PCA opt.':>10} {'Σ λ (pop.)':>10}")
    for (kind, latent), hs in results.items():
        acc = [100 * h["probe_acc"][-1] for h in hs]
        loss = [h["val_loss"][-1] for h in hs]
        print(f"{kind:<10} {latent:>6}  {np.mean(acc):>6.2f} [{min(acc):>6.2f}, {max(acc):>6.2f}]  "
              f"{np.mean(loss):>8.3f} [{min(loss):>7.3f}, {max(loss):>7.3f}]  "
              f"{max(ev[latent:].sum(), 0.0):>10.3f} {pop[latent:].sum():>10.1f}")

    # Latent-small probes on label-blind random slices of the label directions.
    small = min(latents)
    if small < k:
        g = rng.standard_normal((20_000, k))
        ceiling = np.mean([sign_accuracy(r) for r in (g[:, :small] ** 2).sum(1) / (g ** 2).sum(1)])
        basis = u[:k]
        (_, _), (vx, vy), (tx, ty) = data
        measured = []
        for _ in range(8):
            q, r = np.linalg.qr(rng.standard_normal((k, k)))
            q = q * np.sign(np.diag(r))
            sl = torch.from_numpy((q[:small] @ basis).astype(np.float32))
            measured.append(100 * train_linear_probe(vx @ sl.T, vy, tx @ sl.T, ty, 2,
                                                     args.probe_epochs, 200))
        van = results[("vanilla", small)]
        rho0 = np.mean([h["rho"][0] for h in van])
        rho1 = np.mean([h["rho"][1] for h in van])
        print(f"\nlatent {small}: random {small}-of-{k} slices: ceiling "
              f"{100 * sign_accuracy(small / k):.1f}%, expected over random slices "
              f"{100 * ceiling:.1f}%, probe on 8 slices {np.mean(measured):.1f}% "
              f"[{min(measured):.1f}, {max(measured):.1f}]")
        print(f"latent {small}, vanilla, mean over runs: rho = {rho0:.3f} at init (ceiling "
              f"{100 * sign_accuracy(rho0):.1f}%) -> rho = {rho1:.3f} after training (ceiling "
              f"{100 * sign_accuracy(rho1):.1f}%)")
    print(f"training loop: {loop_s:.2f} s")
    print(f"process time: {time.perf_counter() - T_START:.2f} s (after interpreter start-up)")


if __name__ == "__main__":
    main()
