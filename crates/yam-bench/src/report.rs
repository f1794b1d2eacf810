//! The results table: printed, and written to BENCHMARKS.md.

use std::fmt::Write as _;

#[derive(Clone, Debug)]
pub struct Row {
    pub metric: String,
    pub ours: String,
    pub peer: String,
    pub ratio: String,
    pub target: String,
    pub met: Option<bool>,
}

impl Row {
    pub fn new(
        metric: &str,
        ours: String,
        peer: String,
        ratio: String,
        target: &str,
        met: Option<bool>,
    ) -> Self {
        Self {
            metric: metric.into(),
            ours,
            peer,
            ratio,
            target: target.into(),
            met,
        }
    }

    /// A measurement with no peer and no target (cost growth, context).
    pub fn info(metric: &str, ours: String) -> Self {
        Self::new(metric, ours, "—".into(), "—".into(), "—", None)
    }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "NOT MET",
        None => "—",
    }
}

pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| Metric | Ours | Peer | Ratio | Target | Result |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.metric,
            r.ours,
            r.peer,
            r.ratio,
            r.target,
            verdict(r.met)
        );
    }
    out
}

pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// The `q` quantile (0 to 1: 0.99 is the p99) of `values`, nearest rank.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    debug_assert!((0.0..=1.0).contains(&q), "a quantile is 0 to 1, not {q}");
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let idx = ((values.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
    values[idx.min(values.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The restart rows called `percentile(.., 99.0)`, which the index cap turned into the
    /// maximum: their "p99" was the slowest request of the run.
    #[test]
    fn the_p99_of_a_hundred_values_is_not_the_slowest() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.99), 99.0);
        assert_eq!(quantile(&mut v, 0.5), 51.0);
        assert_eq!(quantile(&mut v, 1.0), 100.0);
    }
}
