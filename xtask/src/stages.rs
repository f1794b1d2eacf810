//! Named, timed stages with a summary at the end, so CI shows where its minutes go.

use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Stages {
    done: Vec<(String, Duration, bool)>,
}

impl Stages {
    pub fn run(&mut self, name: &str, stage: impl FnOnce() -> crate::Result) -> crate::Result {
        self.run_with(name, stage)
    }

    /// Runs a stage that produces a value.
    pub fn run_with<T>(
        &mut self,
        name: &str,
        stage: impl FnOnce() -> crate::Result<T>,
    ) -> crate::Result<T> {
        println!("\n==> {name}");
        let started = Instant::now();
        let result = stage();
        let elapsed = started.elapsed();
        self.done.push((name.to_owned(), elapsed, result.is_ok()));
        println!(
            "<== {name}: {} in {:.1}s",
            if result.is_ok() { "ok" } else { "FAILED" },
            elapsed.as_secs_f64()
        );
        result
    }

    pub fn print_summary(&self) {
        println!("\nStage timings:");
        let mut total = Duration::ZERO;
        for (name, elapsed, ok) in &self.done {
            total += *elapsed;
            println!(
                "  {:>7.1}s  {:<6} {name}",
                elapsed.as_secs_f64(),
                if *ok { "ok" } else { "FAILED" }
            );
        }
        println!("  {:>7.1}s  total", total.as_secs_f64());
    }
}
