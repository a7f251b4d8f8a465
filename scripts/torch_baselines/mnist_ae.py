#!/usr/bin/env python3
"""PyTorch baseline of ferrograd's `examples/autoencoders_mnist.rs` (its full default run).

The same work as `target/release/examples/autoencoders_mnist` with no flags:

- data: the 60 000 training images split 0.9 / 0.1 in file order into 54 000 train and
  6 000 validation images; the 10 000 test images. Pixels are x / 255 in float32.
- "ours": a denoising AE (input + 0.5 * N(0, 1), loss against the clean input), encoder
  Linear(784,192) ReLU Linear(192,96), mirrored decoder Linear(96,192) ReLU
  Linear(192,784), Adam lr 1e-3, 1 epoch, batch 100 (shuffled, last partial batch
  dropped), 2 repeats.
- the raw-pixel probe.
- "notebook default": a vanilla AE, hidden [20] (so a linear encoder), Adam lr 1e-4,
  5 epochs, batch 100, 2 repeats.
- loss: squared error summed over the 784 pixels, averaged over the batch.
- after initialisation and after every epoch: the clean validation loss (6 000 images, in
  chunks of 1 000) and a linear probe: a fresh Linear(code, 10), Adam lr 1e-3,
  cross-entropy, 1000 epochs on the frozen codes of the first 200 validation images (one
  batch), scored on the codes of the 10 000 test images.

`--only-ours` drops the notebook default (ferrograd has no flag for that in a full run).

Prints the final numbers as ferrograd does, then `training loop: S s` (the sweep of all runs
and the raw-pixel probe, the counterpart of ferrograd's `compute: ... in S s`) and
`process time: S s` (from the first line of this script, so including `import torch` but
not the interpreter's start-up; time the process from outside for the true figure).
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

PIXELS = 784


def read_idx(path, magic):
    with open(path, "rb") as f:
        data = f.read()
    if int.from_bytes(data[:4], "big") != magic:
        sys.exit(f"{path}: not an IDX file with magic {magic:#x} (gzip? unpack it first)")
    if magic == 0x803:
        n, r, c = (int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(3))
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, r * c)
    n = int.from_bytes(data[4:8], "big")
    return np.frombuffer(data, dtype=np.uint8, offset=8)[:n]


def load_mnist(folder):
    def images(name):
        return torch.from_numpy(read_idx(os.path.join(folder, name), 0x803).astype(np.float32) / 255.0)

    def labels(name):
        return torch.from_numpy(read_idx(os.path.join(folder, name), 0x801).astype(np.int64))

    return (images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte"),
            images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte"))


class Autoencoder(nn.Module):
    """The homework's Autoencoder: Linear layers over the hidden sizes with the activation
    between layers (none after the last), and a mirrored decoder."""

    def __init__(self, input_size, hidden_sizes, activation=nn.ReLU):
        super().__init__()
        widths = [input_size] + list(hidden_sizes)

        def chain(dims):
            layers = []
            for i in range(len(dims) - 1):
                if i > 0:
                    layers.append(activation())
                layers.append(nn.Linear(dims[i], dims[i + 1]))
            return nn.Sequential(*layers)

        self.encoder = chain(widths)
        self.decoder = chain(widths[::-1])

    def forward(self, x):
        return self.decoder(self.encoder(x))


def squared_error_per_sample(out, target):
    return ((out - target) ** 2).sum(dim=1).mean()


def corrupt(x, kind, noise, mask):
    if kind == "vanilla":
        return x
    if kind == "denoising":
        return x + noise * torch.randn_like(x)
    if kind == "masked":
        return x * (torch.rand_like(x) >= mask)
    raise ValueError(kind)


@torch.no_grad()
def validation_loss(model, x, chunk=1000):
    total = 0.0
    for s in range(0, len(x), chunk):
        xb = x[s: s + chunk]
        total += squared_error_per_sample(model(xb), xb).item() * len(xb)
    return total / len(x)


def train_linear_probe(train_x, train_y, test_x, test_y, classes, epochs, batch_size, lr=1e-3):
    """A fresh Linear(features, classes), Adam, cross-entropy, batches in order every epoch;
    returns the test accuracy in [0, 1]."""
    probe = nn.Linear(train_x.shape[1], classes)
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    batches = [(train_x[s: s + batch_size], train_y[s: s + batch_size])
               for s in range(0, len(train_x), batch_size)]
    for _ in range(epochs):
        for xb, yb in batches:
            loss = F.cross_entropy(probe(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = probe(test_x).argmax(dim=1)
    return (pred == test_y).float().mean().item()


def probe_accuracy(model, valid_x, valid_y, test_x, test_y, probe_cfg):
    used = min(probe_cfg["batch_size"] * probe_cfg["max_batches"], len(valid_x))
    with torch.no_grad():
        train_feats = model.encoder(valid_x[:used])
        test_feats = model.encoder(test_x)
    return train_linear_probe(train_feats, valid_y[:used], test_feats, test_y, 10,
                              probe_cfg["epochs"], probe_cfg["batch_size"])


def train_and_probe(model, splits, kind, lr, epochs, batch_size, noise, mask, probe_cfg):
    train_x, valid_x, valid_y, test_x, test_y = splits
    hist = {"val_loss": [], "probe_acc": [], "train_loss": [float("nan")]}

    def measure():
        hist["val_loss"].append(validation_loss(model, valid_x))
        hist["probe_acc"].append(probe_accuracy(model, valid_x, valid_y, test_x, test_y, probe_cfg))

    measure()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(train_x)
    for _ in range(epochs):
        perm = torch.randperm(n)
        loss_sum, batches = 0.0, 0
        for b in range(n // batch_size):  # full batches only, as the homework
            clean = train_x[perm[b * batch_size: (b + 1) * batch_size]]
            out = model(corrupt(clean, kind, noise, mask))
            loss = squared_error_per_sample(out, clean)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            batches += 1
        hist["train_loss"].append(loss_sum / max(batches, 1))
        measure()
    return hist


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mnist_dir", nargs="?", default=os.environ.get("MNIST_DIR", "data/mnist"),
                   help="folder with the four IDX files [default: $MNIST_DIR, else data/mnist]")
    p.add_argument("--seed", type=int, default=182)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--probe-epochs", type=int, default=1000)
    p.add_argument("--only-ours", action="store_true",
                   help="skip the notebook default (vanilla [20], lr 1e-4, 5 epochs)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    tr_x, tr_y, te_x, te_y = load_mnist(args.mnist_dir)
    n_train = int(0.9 * len(tr_x))
    train_x, valid_x, valid_y = tr_x[:n_train], tr_x[n_train:], tr_y[n_train:]
    splits = (train_x, valid_x, valid_y, te_x, te_y)
    print(f"MNIST: train/valid/test = {len(train_x)}/{len(valid_x)}/{len(te_x)}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32")
    probe_cfg = {"epochs": args.probe_epochs, "batch_size": 200, "max_batches": 1}
    settings = [("ours", "denoising", [192, 96], 1e-3, 1)]
    if not args.only_ours:
        settings.append(("notebook default", "vanilla", [20], 1e-4, 5))

    t_loop = time.perf_counter()
    job = 0
    results = []
    raw_acc = None
    for si, (name, kind, hidden, lr, epochs) in enumerate(settings):
        train_s = 0.0
        hists = []
        for _ in range(args.repeats):
            job += 1
            torch.manual_seed(args.seed * 1000 + job)
            model = Autoencoder(PIXELS, hidden)
            t = time.perf_counter()
            hists.append(train_and_probe(model, splits, kind, lr, epochs, 100, 0.5, 0.25, probe_cfg))
            train_s += time.perf_counter() - t
        results.append((name, kind, hidden, hists, train_s))
        if si == 0:
            job += 1
            torch.manual_seed(args.seed * 1000 + job)
            n = probe_cfg["batch_size"]
            raw_acc = 100 * train_linear_probe(valid_x[:n], valid_y[:n], te_x, te_y, 10,
                                               probe_cfg["epochs"], n)
    loop_s = time.perf_counter() - t_loop

    print(f"\nafter the last epoch, mean [min, max] over {args.repeats} runs:")
    print(f"{'setting / model':<30} {'probe test accuracy %':>26}  {'validation loss':>26}")
    for name, kind, hidden, hists, train_s in results:
        acc = [100 * h["probe_acc"][-1] for h in hists]
        loss = [h["val_loss"][-1] for h in hists]
        init = sum(100 * h["probe_acc"][0] for h in hists) / len(hists)
        label = f"{name} {kind} {hidden}"
        print(f"{label:<30} {np.mean(acc):>8.2f} [{min(acc):>6.2f}, {max(acc):>6.2f}]  "
              f"{np.mean(loss):>8.3f} [{min(loss):>7.3f}, {max(loss):>7.3f}]   "
              f"(at init: {init:.2f}%)  [{train_s:.2f} s]")
    print(f"{'raw pixels':<30} {raw_acc:>8.2f}   (the same probe on the 784 raw pixels)")
    print(f"mean final probe accuracy: {np.mean([100 * h['probe_acc'][-1] for h in results[0][3]]):.2f}%")
    print(f"training loop: {loop_s:.2f} s")
    print(f"process time: {time.perf_counter() - T_START:.2f} s (after interpreter start-up)")


if __name__ == "__main__":
    main()
