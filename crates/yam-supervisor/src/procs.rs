//! What the operating system says about processes: alive or not, names, trees, CPU and memory.

use std::collections::HashMap;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

/// One look at the process table.
pub struct ProcessTable {
    system: System,
}

impl ProcessTable {
    pub fn snapshot() -> Option<Self> {
        let mut system = System::new().ok()?;
        // Without tasks: on Linux sysinfo otherwise lists every thread as a child process of
        // its process, and a tree's memory was counted once per thread.
        system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing()
                .without_tasks()
                .with_exe(UpdateKind::OnlyIfNotSet),
        );
        Some(Self { system })
    }

    pub fn name(&self, pid: u32) -> Option<String> {
        self.system
            .process(Pid::from_u32(pid))
            .map(|p| p.name().to_string_lossy().into_owned())
    }

    /// Start time (seconds since the epoch) of a live process.
    pub fn start_time(&self, pid: u32) -> Option<u64> {
        self.system
            .process(Pid::from_u32(pid))
            .map(|p| p.start_time())
    }

    /// Alive and the same process (not a recycled pid).
    pub fn is_same_process(&self, pid: u32, start_time: u64) -> bool {
        self.start_time(pid)
            .is_some_and(|t| t.abs_diff(start_time) <= 1)
    }

    /// The pid and all its descendants.
    pub fn tree(&self, pid: u32) -> Vec<u32> {
        let mut children: HashMap<Pid, Vec<Pid>> = HashMap::new();
        for (child, p) in self.system.processes() {
            if p.thread_kind().is_some() {
                continue;
            }
            if let Some(parent) = p.parent() {
                children.entry(parent).or_default().push(*child);
            }
        }
        let mut tree = vec![Pid::from_u32(pid)];
        let mut i = 0;
        while i < tree.len() {
            if let Some(kids) = children.get(&tree[i]) {
                tree.extend(kids.iter().copied());
            }
            i += 1;
        }
        tree.into_iter().map(|p| p.as_u32()).collect()
    }

    pub fn kill_tree(&self, pid: u32) -> bool {
        let mut killed = false;
        for p in self.tree(pid).into_iter().rev() {
            if let Some(process) = self.system.process(Pid::from_u32(p)) {
                killed |= process.kill();
            }
        }
        killed
    }
}

/// CPU and memory of a process tree, sampled over time (CPU needs two samples).
pub struct UsageSampler {
    system: System,
    tree: Vec<Pid>,
    root: Option<u32>,
    samples: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Percent of one core.
    pub cpu_percent: f32,
    pub rss_bytes: u64,
    pub processes: usize,
}

impl UsageSampler {
    pub fn new() -> Option<Self> {
        Some(Self {
            system: System::new().ok()?,
            tree: Vec::new(),
            root: None,
            samples: 0,
        })
    }

    /// Samples the tree under `root`; the tree itself (a scan of every process) is
    /// re-discovered for a new root and then only every twelfth sample.
    pub fn sample(&mut self, root: u32) -> Usage {
        if self.root != Some(root) || self.samples.is_multiple_of(12) {
            if let Some(table) = ProcessTable::snapshot() {
                self.tree = table.tree(root).into_iter().map(Pid::from_u32).collect();
            }
            self.root = Some(root);
        }
        self.samples = self.samples.wrapping_add(1);
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&self.tree),
            true,
            ProcessRefreshKind::nothing()
                .without_tasks()
                .with_cpu()
                .with_memory(),
        );
        let mut usage = Usage::default();
        for pid in &self.tree {
            if let Some(p) = self.system.process(*pid) {
                usage.cpu_percent += p.cpu_usage();
                usage.rss_bytes += p.memory();
                usage.processes += 1;
            }
        }
        usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_this_process_and_its_children() {
        let me = std::process::id();
        let table = ProcessTable::snapshot().expect("process table");
        let start = table.start_time(me).expect("start time");
        assert!(table.is_same_process(me, start));
        assert!(!table.is_same_process(me, start + 1000));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let table = ProcessTable::snapshot().expect("process table");
        assert!(table.tree(me).contains(&child.id()));
        assert!(table.kill_tree(child.id()));
        child.wait().expect("wait");
        let mut sampler = UsageSampler::new().expect("sampler");
        assert!(sampler.sample(me).rss_bytes > 0);
    }

    /// Threads are not processes: a child with five threads is one process in its tree and in
    /// every usage sample (the tree is rediscovered every twelfth sample).
    #[test]
    fn a_tree_counts_processes_not_threads() {
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import threading,time\n\
                 [threading.Thread(target=time.sleep,args=(10,)).start() for _ in range(4)]\n\
                 time.sleep(10)",
            ])
            .spawn()
            .expect("python3");
        let pid = child.id();
        let threads = || {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Threads:"))
                        .and_then(|n| n.trim().parse::<u32>().ok())
                })
                .unwrap_or(0)
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while threads() < 5 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(threads() >= 5, "the child did not start its threads");
        let table = ProcessTable::snapshot().expect("process table");
        assert_eq!(
            table.tree(pid),
            vec![pid],
            "threads were listed as processes"
        );
        let mut sampler = UsageSampler::new().expect("sampler");
        for _ in 0..13 {
            assert_eq!(sampler.sample(pid).processes, 1);
        }
        child.kill().expect("kill");
        child.wait().expect("wait");
    }
}
