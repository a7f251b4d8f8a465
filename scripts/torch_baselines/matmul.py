"""PyTorch's CPU matmul (MKL or oneDNN, whatever the wheel dispatches to) on the shapes
that `bench_gemm` reports, so the two can be compared in one session.

    python scripts/torch_baselines/matmul.py                  # 1024^3 and 2048^3, f32/f64, 1 and 2 threads
    python scripts/torch_baselines/matmul.py --shape 100x784x192 --threads 1

Prints one line per (dtype, shape, threads): the best and the median GFLOP/s over
`--samples` timed calls (each call's result written into a preallocated output, like
bench_gemm's `C = A·B`), and which BLAS the build reports.
"""

import argparse
import statistics
import time

import torch


def parse_shape(s):
    m, k, n = (int(x) for x in s.lower().split("x"))
    return m, k, n


def bench(dtype, m, k, n, samples):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(m, k, dtype=dtype, generator=g)
    b = torch.rand(k, n, dtype=dtype, generator=g)
    c = torch.empty(m, n, dtype=dtype)
    flops = 2.0 * m * n * k
    # At least ~50 ms per sample, so that small shapes are timed over many calls.
    torch.matmul(a, b, out=c)
    t0 = time.perf_counter()
    torch.matmul(a, b, out=c)
    once = max(time.perf_counter() - t0, 1e-7)
    reps = max(1, int(0.05 / once))
    rates = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b, out=c)
        dt = (time.perf_counter() - t0) / reps
        rates.append(flops / dt / 1e9)
    return max(rates), statistics.median(rates)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="1024x1024x1024,2048x2048x2048")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--dtype", default="f32,f64")
    p.add_argument("--samples", type=int, default=9)
    args = p.parse_args()
    blas = "mkl" if torch.backends.mkl.is_available() else "other"
    print(f"torch {torch.__version__}, BLAS: {blas}, cpu capability: "
          f"{torch.backends.cpu.get_cpu_capability()}")
    dtypes = {"f32": torch.float32, "f64": torch.float64}
    for name in args.dtype.split(","):
        for shape in args.shape.split(","):
            m, k, n = parse_shape(shape)
            for t in (int(x) for x in args.threads.split(",")):
                torch.set_num_threads(t)
                best, med = bench(dtypes[name], m, k, n, args.samples)
                print(f"{name} {m}x{k}x{n} threads={t}: best {best:7.1f} GFLOP/s, "
                      f"median {med:7.1f}")


if __name__ == "__main__":
    main()
