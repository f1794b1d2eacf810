//! Load from `wrk` (Debian), bounded in time, on 127.0.0.1 only.

use std::process::Command;
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default)]
pub struct WrkResult {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

fn millis(text: &str) -> Option<f64> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| t.split_at(i))?;
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

pub fn parse(output: &str) -> WrkResult {
    let mut r = WrkResult::default();
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => r.rps = n.parse().unwrap_or(0.0),
            ["50%", t] => r.p50_ms = millis(t).unwrap_or(f64::NAN),
            ["99%", t] => r.p99_ms = millis(t).unwrap_or(f64::NAN),
            ["Non-2xx", "or", "3xx", "responses:", n] => r.errors += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", ..] => {
                r.errors += words
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    r
}

/// Runs wrk against `url` with the session cookie; `connections` clients on 2 threads.
pub fn run(
    url: &str,
    cookie: Option<&str>,
    connections: u32,
    duration: Duration,
) -> anyhow::Result<WrkResult> {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{}s", duration.as_secs().max(1)),
        "--latency",
    ]);
    if let Some(c) = cookie {
        cmd.args(["-H", &format!("Cookie: yam_session={c}")]);
    }
    let out = cmd
        .arg(url)
        .output()
        .map_err(|e| anyhow::anyhow!("wrk: {e} (apt-get install wrk)"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let result = parse(&text);
    anyhow::ensure!(
        result.rps > 0.0,
        "wrk measured nothing:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let out = "Running 5s test\n  Latency Distribution\n     50%  250.00us\n     75%    1.10ms\n     99%    2.50ms\n  1000 requests\nRequests/sec:  48123.45\nTransfer/sec: 1MB\n";
        let r = parse(out);
        assert_eq!(r.rps, 48123.45);
        assert_eq!(r.p50_ms, 0.25);
        assert_eq!(r.p99_ms, 2.5);
        assert_eq!(r.errors, 0);
        assert_eq!(
            parse("  Non-2xx or 3xx responses: 7\nRequests/sec: 1\n").errors,
            7
        );
    }
}
