//! Criterion benchmarks of the GEMM: f32/f64 square sizes on 1 and 2 threads, the
//! homework's layer shapes, and the naive i-k-j loop at small sizes for comparison.
//! Throughput is reported in "elements" per second = flops per second (2·m·n·k per call).
//!
//! `cargo bench -p ferrograd-tensor --features criterion` (or `-- f32/256` to filter); the
//! feature keeps criterion out of `cargo test` builds.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrograd_tensor::gemm::{self, gemm, MatMut, MatRef};
use ferrograd_tensor::Float;

fn data<T: Float>(len: usize, seed: u64) -> Vec<T> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            T::from_f64((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        })
        .collect()
}

fn naive_ikj<T: Float>(m: usize, k: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
    for i in 0..m {
        let crow = &mut c[i * n..(i + 1) * n];
        crow.fill(T::ZERO);
        for p in 0..k {
            let aip = a[i * k + p];
            for (x, &y) in crow.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *x += aip * y;
            }
        }
    }
}

/// Benches `C = A·B` for `(m, k, n)` under `name/label`, optionally also the naive loop.
fn bench_shape<T: Float>(
    c: &mut Criterion,
    name: &str,
    (m, k, n): (usize, usize, usize),
    naive: bool,
) {
    let a = data::<T>(m * k, 1);
    let b = data::<T>(k * n, 2);
    let mut out = vec![T::ZERO; m * n];
    let mut g = c.benchmark_group(format!("{name}/{m}x{k}x{n}"));
    g.throughput(Throughput::Elements(2 * (m * n * k) as u64));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(20);
    for threads in [1, 2] {
        gemm::set_num_threads(threads);
        g.bench_function(
            BenchmarkId::new("ferrograd", format!("{threads}t")),
            |bch| {
                bch.iter(|| {
                    gemm(
                        T::ONE,
                        MatRef::new(black_box(&a), m, k),
                        MatRef::new(black_box(&b), k, n),
                        T::ZERO,
                        MatMut::new(&mut out, m, n),
                    )
                })
            },
        );
    }
    gemm::set_num_threads(0);
    if naive {
        g.bench_function(BenchmarkId::new("naive_ikj", "1t"), |bch| {
            bch.iter(|| naive_ikj(m, k, n, black_box(&a), black_box(&b), &mut out))
        });
    }
    g.finish();
}

fn squares(c: &mut Criterion) {
    for s in [64, 256, 512, 1024] {
        bench_shape::<f32>(c, "f32", (s, s, s), s <= 256);
        bench_shape::<f64>(c, "f64", (s, s, s), s <= 256);
    }
}

fn training_shapes(c: &mut Criterion) {
    // (m, k, n) of the homework's MLP: forward and both backward products of each layer.
    for shape in [
        (100, 784, 20),
        (100, 20, 784),
        (784, 100, 20),
        (200, 20, 2),
        (256, 784, 512),
    ] {
        bench_shape::<f32>(c, "f32", shape, shape.0 * shape.1 * shape.2 <= 1 << 21);
    }
}

criterion_group!(benches, squares, training_shapes);
criterion_main!(benches);
