//! Medians, JSON records and the side-by-side table.

use serde::{Deserialize, Serialize};

use crate::{Impl, Op};

/// One line of the `--json` output: the median of one operation of one stack at one N.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `conclave`, `mls-rs` or `openmls`.
    #[serde(rename = "impl")]
    pub implementation: String,
    /// The operation (see [`Op::name`]).
    pub op: String,
    /// Group size.
    pub n: usize,
    /// Median over the repetitions.
    pub median: f64,
    /// `ms`, `msg/s`, `MB/s` or `bytes`.
    pub unit: String,
    /// The peak heap of one run of the operation in bytes above the heap's level at its
    /// start (`crate::heap`), from an extra untimed run; `null` for the sizes and when the
    /// counting allocator is not installed (the library without the binary).
    pub peak_heap_bytes: Option<u64>,
    /// The provider mode (`rustcrypto` or `fastest`).
    pub provider: String,
    /// The cipher suite (1, or a post-quantum suite under Conclave's value).
    pub cipher_suite: u16,
    /// The op's floor at this N, in `unit` (`crate::floors`: the primitive work RFC 9420
    /// requires, priced with the primitives measured in the same run by Conclave's
    /// provider; the same for all three stacks); `null` for the sizes, or without a
    /// Conclave run.
    pub floor: Option<f64>,
    /// How far the median is from the floor: median/floor for times, floor/median for
    /// rates; 1.0 is at the floor.
    pub floor_ratio: Option<f64>,
}

/// Gives every record the floor of Conclave's record of the same op, N, provider and
/// suite (the floor is the workload's, not a stack's), and its `floor_ratio`.
pub fn fill_floors(records: &mut [Record]) {
    let floors: Vec<(String, usize, String, u16, f64)> = records
        .iter()
        .filter(|r| r.implementation == Impl::Conclave.name())
        .filter_map(|r| {
            r.floor
                .map(|f| (r.op.clone(), r.n, r.provider.clone(), r.cipher_suite, f))
        })
        .collect();
    for r in records.iter_mut() {
        r.floor = floors
            .iter()
            .find(|(op, n, provider, suite, _)| {
                *op == r.op && *n == r.n && *provider == r.provider && *suite == r.cipher_suite
            })
            .map(|&(.., f)| f);
        let higher_is_better = Op::ALL
            .iter()
            .any(|o| o.name() == r.op && o.higher_is_better());
        r.floor_ratio = r.floor.filter(|f| *f > 0.0 && r.median > 0.0).map(|f| {
            if higher_is_better {
                f / r.median
            } else {
                r.median / f
            }
        });
    }
}

/// The median of `values` (mean of the two middle ones for an even count); `None` when
/// empty or when a value is not a number.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted.get(mid).copied()
    } else {
        Some((sorted.get(mid - 1)? + sorted.get(mid)?) / 2.0)
    }
}

fn format_value(value: f64, unit: &str) -> String {
    match unit {
        "bytes" => format!("{value:.0}"),
        "msg/s" => format!("{value:.0}"),
        _ if value >= 100.0 => format!("{value:.1}"),
        _ if value >= 1.0 => format!("{value:.2}"),
        _ => format!("{value:.3}"),
    }
}

/// Bytes in KiB or MiB for the heap columns.
fn format_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

fn record(records: &[Record], stack: Impl, op: Op, n: usize) -> Option<&Record> {
    records
        .iter()
        .find(|r| r.implementation == stack.name() && r.op == op.name() && r.n == n)
}

fn find(records: &[Record], stack: Impl, op: Op, n: usize) -> Option<f64> {
    record(records, stack, op, n).map(|r| r.median)
}

/// A Markdown table per group size: each operation's median per stack and the ratio
/// peer/Conclave (for times and sizes > 1 means Conclave is faster or smaller; for rates
/// < 1 means Conclave is faster), then each stack's peak heap for the operation
/// ([`Record::peak_heap_bytes`]).
pub fn render_table(records: &[Record]) -> String {
    let mut sizes: Vec<usize> = records.iter().map(|r| r.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut out = String::new();
    out.push_str(
        "| N | op | unit | conclave | mls-rs | openmls | mls-rs/conclave | openmls/conclave \
         | floor | floor_ratio conclave | floor_ratio mls-rs | floor_ratio openmls \
         | heap conclave | heap mls-rs | heap openmls |\n",
    );
    out.push_str("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for n in sizes {
        for op in Op::ALL {
            let ours = find(records, Impl::Conclave, op, n);
            let [mls, om] = [Impl::MlsRs, Impl::OpenMls].map(|p| find(records, p, op, n));
            if ours.is_none() && mls.is_none() && om.is_none() {
                continue;
            }
            let cell =
                |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format_value(v, op.unit()));
            let ratio = |peer: Option<f64>| match (peer, ours) {
                (Some(p), Some(o)) if o > 0.0 => format!("{:.2}", p / o),
                _ => "-".to_owned(),
            };
            let [heap_ours, heap_mls, heap_om] = Impl::ALL.map(|s| {
                record(records, s, op, n)
                    .and_then(|r| r.peak_heap_bytes)
                    .map_or_else(|| "-".to_owned(), format_bytes)
            });
            let floor = Impl::ALL
                .iter()
                .find_map(|&s| record(records, s, op, n).and_then(|r| r.floor));
            let [fr_ours, fr_mls, fr_om] = Impl::ALL.map(|s| {
                record(records, s, op, n)
                    .and_then(|r| r.floor_ratio)
                    .map_or_else(|| "-".to_owned(), |f| format!("{f:.2}"))
            });
            out.push_str(&format!(
                "| {n} | {} | {} | {} | {} | {} | {} | {} | {} | {fr_ours} | {fr_mls} | {fr_om} \
                 | {heap_ours} | {heap_mls} | {heap_om} |\n",
                op.name(),
                op.unit(),
                cell(ours),
                cell(mls),
                cell(om),
                ratio(mls),
                ratio(om),
                cell(floor),
            ));
        }
    }
    out
}
