//! What the app keeps in Tauri's managed state: the supervisor handle (no globals).

use std::sync::atomic::{AtomicBool, Ordering};

use yam_supervisor::ctl::CtlPaths;
use yam_supervisor::supervisor::Supervisor;

pub struct TrayState {
    pub supervisor: Supervisor,
    pub paths: CtlPaths,
    /// Set once Quit was chosen: window close and exit requests stop being prevented.
    pub quitting: AtomicBool,
    /// Set when the window's UI reported that it loaded.
    pub ui_ready: AtomicBool,
}

impl TrayState {
    pub fn new(supervisor: Supervisor, paths: CtlPaths) -> Self {
        Self {
            supervisor,
            paths,
            quitting: AtomicBool::new(false),
            ui_ready: AtomicBool::new(false),
        }
    }

    pub fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }
}
