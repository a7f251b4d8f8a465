//! The data-cache sizes of this machine, read once at run time, and the block sizes
//! derived from them.
//!
//! Block sizes tuned as constants on one CPU are wrong on the next (L1d is 32 KiB on Zen 2
//! and 48 KiB on Zen 4/5 and Ice Lake; L2 512 KiB to 2 MiB), so the driver derives KC, MC
//! and NC from the caches it actually runs on, with the rules of the BLIS analytical model
//! (Low, Igual, Smith, Quintana-Ortí, "Analytical modeling is enough for high-performance
//! BLIS", 2016), simplified to fractions of each level:
//!
//! - KC: the KC×NR micro-panel of B is reused by every MR×KC micro-panel of A streaming
//!   past it, so it must stay in L1: `NR·KC` elements fill L1d. The A micro-panels are
//!   used once per B micro-panel and stream in from L2 (the hardware prefetcher follows
//!   their sequential layout), so they are not counted. The stricter textbook rule
//!   (A's and B's micro-panels together in 3/4 of L1: KC = 152 for f64 14×16 on a
//!   48 KiB L1) measured 15–20 % slower at 1024³ f64 on Zen 5 than KC = 384: every KC
//!   slice costs a pass of loads and stores over all of C (8 MiB at 1024² f64), and
//!   halving the passes wins more than the L1 misses on A cost. The same rule gives the
//!   KC = 512 tuned by measurement for AVX2 on Zen 2 (32 KiB L1).
//!
//!   On Zen 5 the AVX-512 kernels go further (`KcRule::L2`): with the B micro-panel in an
//!   eighth of L2 instead of L1 (KC = 1024 rather than 384, for f32 and f64 alike) 1024³
//!   and 2048³ measured 3–8 % faster, interleaved against the `gemm` crate in one process:
//!   one pass over C instead of three at 1024³, and L2 (64 bytes a cycle) feeds the two B
//!   vectors a 14-row step needs every 14 cycles with room to spare. The AVX2 kernels on
//!   the same machine measured 2–4 % slower at KC = 1024 than at 512 and keep the L1 rule.
//! - MC: the MC×KC block of A is reused by every B micro-panel of the NC block, so it must
//!   stay in L2 while B micro-panels stream through it: half of L2.
//! - NC: the KC×NC block of B is reused by every MC block, so it should stay in L3: half
//!   of this core's share of L3 (threads that split rows share one packed copy, see
//!   `threading`, but other splits still pack one each).
//!
//! Sources, in order: Linux sysfs (`/sys/devices/system/cpu/cpu0/cache/index*/`), CPUID
//! (x86-64 deterministic cache parameters, leaf 4 or AMD's 0x8000_001D), else constants
//! typical of current desktop and server cores.

use std::sync::OnceLock;

/// Data-cache sizes in bytes (L3: this core's share, when the platform says how it is
/// shared), and where they came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSizes {
    /// Level-1 data cache of one core.
    pub l1d: usize,
    /// Level-2 cache of one core.
    pub l2: usize,
    /// Level-3 cache, the whole of it.
    pub l3: usize,
    /// Logical CPUs sharing the L3 (1 if unknown).
    pub l3_sharing: usize,
    /// `"sysfs"`, `"cpuid"` or `"default"`.
    pub source: &'static str,
}

const DEFAULT: CacheSizes = CacheSizes {
    l1d: 32 << 10,
    l2: 512 << 10,
    l3: 8 << 20,
    l3_sharing: 1,
    source: "default",
};

/// The cache sizes of this machine (read on first use).
pub fn cache_sizes() -> CacheSizes {
    static SIZES: OnceLock<CacheSizes> = OnceLock::new();
    *SIZES.get_or_init(|| sysfs().or_else(cpuid).unwrap_or(DEFAULT))
}

/// `"48K"`, `"1024K"`, `"32M"`, `"12345"` → bytes.
fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mul) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok().map(|n| n * mul)
}

/// How many CPUs a sysfs cpu list (`"0-3,8-11"`) names.
fn count_cpu_list(s: &str) -> usize {
    s.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        })
        .sum()
}

fn sysfs() -> Option<CacheSizes> {
    let mut c = CacheSizes {
        l1d: 0,
        l2: 0,
        l3: 0,
        l3_sharing: 1,
        source: "sysfs",
    };
    for i in 0..16 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).ok();
        let Some(level) = read("level") else {
            continue;
        };
        let kind = read("type").unwrap_or_default();
        if kind.trim() == "Instruction" {
            continue;
        }
        let Some(size) = read("size").as_deref().and_then(parse_size) else {
            continue;
        };
        match level.trim() {
            "1" => c.l1d = size,
            "2" => c.l2 = size,
            "3" => {
                c.l3 = size;
                c.l3_sharing = read("shared_cpu_list")
                    .map_or(1, |s| count_cpu_list(&s))
                    .max(1);
            }
            _ => {}
        }
    }
    (c.l1d > 0 && c.l2 > 0).then(|| CacheSizes {
        l3: if c.l3 > 0 { c.l3 } else { 4 * c.l2 },
        ..c
    })
}

#[cfg(target_arch = "x86_64")]
fn cpuid() -> Option<CacheSizes> {
    use std::arch::x86_64::__cpuid_count;
    // Leaf 0 / 0x8000_0000 report the highest standard / extended leaf.
    let max_std = __cpuid_count(0, 0).eax;
    let max_ext = __cpuid_count(0x8000_0000, 0).eax;
    // AMD describes its caches in 0x8000_001D (same layout as Intel's leaf 4).
    let leaf = if max_ext >= 0x8000_001D {
        0x8000_001D
    } else if max_std >= 4 {
        4
    } else {
        return None;
    };
    let mut c = CacheSizes {
        l1d: 0,
        l2: 0,
        l3: 0,
        l3_sharing: 1,
        source: "cpuid",
    };
    for sub in 0..16 {
        let r = __cpuid_count(leaf, sub);
        let kind = r.eax & 0x1f; // 0 none, 1 data, 2 instruction, 3 unified
        if kind == 0 {
            break;
        }
        if kind == 2 {
            continue;
        }
        let level = (r.eax >> 5) & 0x7;
        let ways = ((r.ebx >> 22) & 0x3ff) as usize + 1;
        let parts = ((r.ebx >> 12) & 0x3ff) as usize + 1;
        let line = (r.ebx & 0xfff) as usize + 1;
        let sets = r.ecx as usize + 1;
        let size = ways * parts * line * sets;
        match level {
            1 => c.l1d = size,
            2 => c.l2 = size,
            3 => {
                c.l3 = size;
                c.l3_sharing = ((r.eax >> 14) & 0xfff) as usize + 1;
            }
            _ => {}
        }
    }
    (c.l1d > 0 && c.l2 > 0).then(|| CacheSizes {
        l3: if c.l3 > 0 { c.l3 } else { 4 * c.l2 },
        ..c
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn cpuid() -> Option<CacheSizes> {
    None
}

/// Block sizes of the blocked driver for one kernel and element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocking {
    /// Micro-tile rows.
    pub mr: usize,
    /// Micro-tile columns.
    pub nr: usize,
    /// Depth of a packed block.
    pub kc: usize,
    /// Rows of a packed A block (a multiple of `mr`).
    pub mc: usize,
    /// Columns of a packed B block (a multiple of `nr`).
    pub nc: usize,
}

/// Where the KC×NR micro-panel of B is meant to live, which sets KC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KcRule {
    /// In L1 (the textbook rule): `NR·KC` elements fill L1d; KC ≤ 512.
    L1,
    /// In L2, an eighth of it, KC ≤ 1024: for kernels that measured faster with fewer,
    /// deeper KC slices than with an L1-resident micro-panel (see the module docs).
    L2,
}

/// The blocking rules of the module docs for an `mr`×`nr` kernel on `elem`-byte elements.
pub(crate) fn derive(c: &CacheSizes, mr: usize, nr: usize, elem: usize, rule: KcRule) -> Blocking {
    // KC a multiple of 8 (whole cache lines of a packed f64 step, an even count for the
    // kernel's unroll by two), at least 64 so tiny L1 reports cannot starve the kernel.
    let kc = match rule {
        // At most 512: for AVX2 on a 48 KiB L1 the rule gives 768, which measured slower
        // than 512 (by then C's passes are few, and MC shrinks to keep MC×KC in L2).
        KcRule::L1 => ((c.l1d / (nr * elem)) / 8 * 8).clamp(64, 512),
        // At most 1024: deeper slices leave MC×KC too few rows of A to fill L2 usefully.
        KcRule::L2 => ((c.l2 / 8 / (nr * elem)) / 8 * 8).clamp(64, 1024),
    };
    let mc = ((c.l2 / 2) / (kc * elem)) / mr * mr;
    let mc = mc.clamp(mr, 4096 / mr * mr);
    let l3_share = c.l3 / c.l3_sharing.max(1);
    let nc = ((l3_share / 2) / (kc * elem)) / nr * nr;
    // At least a few micro-panels; at most 8192 columns, past which a block buys no reuse
    // worth its page-table pressure.
    let nc = nc.clamp(4 * nr, 8192 / nr * nr);
    Blocking { mr, nr, kc, mc, nc }
}

/// `derive` for this machine's caches, computed once per kernel shape: it costs a few
/// dozen divisions, and every product asks for it several times (the plan, the threading
/// split, the orientation), which was a few percent of a 200×20·20×10 product.
pub(crate) fn derive_cached(mr: usize, nr: usize, elem: usize, rule: KcRule) -> Blocking {
    type Key = (usize, usize, usize, KcRule);
    // More slots than kernel shapes (11): each slot is set once, to one key, by whichever
    // thread gets there first; a lookup walks the slots until its key or an empty one.
    static MEMO: [OnceLock<(Key, Blocking)>; 16] = [const { OnceLock::new() }; 16];
    let key = (mr, nr, elem, rule);
    let compute = || derive(&cache_sizes(), mr, nr, elem, rule);
    for slot in &MEMO {
        let &(k, b) = slot.get_or_init(|| (key, compute()));
        if k == key {
            return b;
        }
    }
    compute()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sysfs_formats() {
        assert_eq!(parse_size("48K\n"), Some(48 << 10));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("x"), None);
        assert_eq!(count_cpu_list("0-3,8-11\n"), 8);
        assert_eq!(count_cpu_list("5"), 1);
    }

    #[test]
    fn blocks_fit_their_cache_level() {
        for c in [
            DEFAULT,
            CacheSizes {
                l1d: 48 << 10,
                l2: 1 << 20,
                l3: 32 << 20,
                l3_sharing: 2,
                source: "test",
            },
        ] {
            for (mr, nr, e) in [
                (14, 32, 4),
                (14, 16, 8),
                (8, 24, 8),
                (6, 16, 4),
                (6, 8, 8),
                (4, 4, 8),
            ] {
                let b = derive(&c, mr, nr, e, KcRule::L1);
                assert!(nr * b.kc * e <= c.l1d, "{b:?} {c:?}");
                let b2 = derive(&c, mr, nr, e, KcRule::L2);
                assert!(
                    nr * b2.kc * e <= c.l2 / 8 && b2.kc >= b.kc.min(64),
                    "{b2:?} {c:?}"
                );
                assert!(b2.mc * b2.kc * e <= c.l2 / 2 || b2.mc == mr, "{b2:?} {c:?}");
                assert!(
                    b.mc * b.kc * e <= c.l2 / 2 && b.mc.is_multiple_of(mr),
                    "{b:?} {c:?}"
                );
                assert!(b.nc.is_multiple_of(nr) && b.nc >= 4 * nr, "{b:?} {c:?}");
            }
        }
        // The ones printed by bench_gemm exist: sysfs, CPUID or the default.
        let c = cache_sizes();
        assert!(c.l1d >= 4096 && c.l2 >= c.l1d, "{c:?}");
    }
}
