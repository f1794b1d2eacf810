//! Unix: its own process group (signals reach the whole tree), and on Linux a parent-death
//! signal so the server never outlives a supervisor killed with -9.

use process_wrap::tokio::{CommandWrap, ProcessGroup};

pub fn isolate(command: &mut CommandWrap) {
    command.wrap(ProcessGroup::leader());
    #[cfg(target_os = "linux")]
    die_with_parent(command);
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(command: &mut CommandWrap) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only calls
    // async-signal-safe functions (prctl, getppid).
    unsafe {
        command.command_mut().pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(std::io::Error::other("the supervisor exited during spawn"));
            }
            Ok(())
        });
    }
}
