#!/usr/bin/env python3
"""The polynomial coefficients of tensor/src/ops/exp_ln.rs, by the Remez exchange algorithm.

Standard library only; runs in a second: `python3 scripts/minimax_exp_ln.py`.

Each fit minimises the largest weighted error  w(x)·|P(x) − g(x)|  over an interval, P of a
given degree: start from Chebyshev points, solve for the P that equioscillates on them,
move the points to the error's extrema, repeat. Double precision is ample for `f32`
coefficients (their own rounding, printed below, dominates the error).

- exp: eʳ = 1 + r + r²·Q(r) on |r| ≤ ln2/2 (plus a margin: n = round(x·log2 e) is
  computed from a rounded product). Minimising the relative error of eʳ means
  g(r) = (eʳ − 1 − r)/r² and w(r) = r²/eʳ.
- ln: ln(1+f) = 2·atanh(s) = 2s + s·R(z), s = f/(2+f), z = s², for the mantissa
  m = 1+f ∈ [√½, √2), so |s| ≤ (√2−1)/(√2+1). R(z) = z·P(z) with
  g(z) = Σ_{k≥1} 2z^(k−1)/(2k+1), and the relative error of ln(1+f) ≈ 2s is
  s·z·|P − g| / 2s, so w(z) = z/2.
"""

import math
import struct


def f32(x):
    """`x` rounded to the nearest f32."""
    return struct.unpack("f", struct.pack("f", x))[0]


def f32_literal(x):
    """The shortest decimal that parses back to `f32(x)` (what clippy accepts)."""
    for digits in range(1, 12):
        s = "%.*e" % (digits, x)
        if f32(float(s)) == f32(x):
            return s
    raise ValueError(x)


def solve(a, b):
    """Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [row[:] + [v] for row, v in zip(a, b)]
    for i in range(n):
        p = max(range(i, n), key=lambda r: abs(m[r][i]))
        m[i], m[p] = m[p], m[i]
        for r in range(i + 1, n):
            k = m[r][i] / m[i][i]
            for c in range(i, n + 1):
                m[r][c] -= k * m[i][c]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (m[i][n] - sum(m[i][c] * x[c] for c in range(i + 1, n))) / m[i][i]
    return x


def poly(c, x):
    return sum(cj * x**j for j, cj in enumerate(c))


def remez(g, w, lo, hi, degree, iterations=30, grid=20000):
    """Coefficients (constant first) of the degree-`degree` minimax fit of g, weight w."""
    n = degree + 2
    xs = [(lo + hi) / 2 - (hi - lo) / 2 * math.cos(math.pi * i / (n - 1)) for i in range(n)]
    grid_xs = [lo + (hi - lo) * i / grid for i in range(grid + 1)]
    for _ in range(iterations):
        rows = [[x**j for j in range(degree + 1)] + [(-1) ** i / w(x)] for i, x in enumerate(xs)]
        c = solve(rows, [g(x) for x in xs])[: degree + 1]
        err = [w(x) * (poly(c, x) - g(x)) for x in grid_xs]
        # The local extrema of the error, one per run of equal sign.
        ext = []
        for i, e in enumerate(err):
            left = abs(err[i - 1]) if i > 0 else 0.0
            right = abs(err[i + 1]) if i + 1 < len(err) else 0.0
            if abs(e) >= left and abs(e) >= right:
                if ext and (ext[-1][1] > 0) == (e > 0):
                    if abs(e) > abs(ext[-1][1]):
                        ext[-1] = (grid_xs[i], e)
                else:
                    ext.append((grid_xs[i], e))
        while len(ext) > n:
            ext.pop(0 if abs(ext[0][1]) < abs(ext[-1][1]) else -1)
        if len(ext) < n:
            break
        xs = [x for x, _ in ext]
    return c


def max_error(c, g, w, lo, hi, points=40000):
    return max(
        abs(w(x) * (poly(c, x) - g(x)))
        for x in (lo + (hi - lo) * i / points for i in range(points + 1))
        if w(x) > 0
    )


def report(name, c, g, w, lo, hi):
    c32 = [f32(x) for x in c]
    print(f"{name}: [{', '.join(f32_literal(x) for x in c32)}]")
    print(
        f"  error 2^{math.log2(max_error(c, g, w, lo, hi)):.1f}, "
        f"with f32 coefficients 2^{math.log2(max_error(c32, g, w, lo, hi)):.1f}"
    )


def exp_q(r):
    """(eʳ − 1 − r)/r² by its series (no cancellation near 0)."""
    term, total = 0.5, 0.5
    for k in range(3, 30):
        term *= r / k
        total += term
    return total


def ln_r_over_z(z):
    return sum(2 * z ** (k - 1) / (2 * k + 1) for k in range(1, 40))


half = math.log(2) / 2 + 2e-5
report("EXP_Q", remez(exp_q, lambda r: r * r / math.exp(r), -half, half, 4),
       exp_q, lambda r: r * r / math.exp(r), -half, half)

s_max = (math.sqrt(2) - 1) / (math.sqrt(2) + 1)
z_max = s_max**2 * 1.0001
# The weight vanishes at z = 0, which so cannot be a reference point: start just above it.
z_min = 1e-12
report("LN_R", remez(ln_r_over_z, lambda z: z / 2, z_min, z_max, 3),
       ln_r_over_z, lambda z: z / 2, z_min, z_max)

ln2 = math.log(2)
print(f"LN2_HI_EXP = {f32_literal(ln2)}, LN2_LO_EXP = {f32_literal(ln2 - f32(ln2))}")
ln2_hi16 = round(ln2 * 2**16) / 2**16  # 16 bits: k·LN2_HI_LN exact for |k| < 2^8
print(f"LN2_HI_LN = {f32_literal(ln2_hi16)}, LN2_LO_LN = {f32_literal(ln2 - ln2_hi16)}")
