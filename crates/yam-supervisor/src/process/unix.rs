//! Unix: its own process group (signals reach the whole tree), and on Linux a parent-death
//! signal so the server never outlives a supervisor killed with -9.

use std::net::TcpListener;

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

/// Descriptors 3 and 4 of the child are the public and the control socket (`LISTEN_FDS`).
#[allow(unsafe_code)]
pub fn hand_over(command: &mut CommandWrap, public: &TcpListener, control: &TcpListener) {
    let setup = yam_net::handover::unix::child_setup(public, control);
    let cmd = command.command_mut();
    cmd.envs(yam_net::handover::unix::child_env());
    // SAFETY: the closure only calls async-signal-safe functions (fcntl, dup2) on descriptor
    // numbers; the sockets stay open in the supervisor until the spawn has returned.
    unsafe {
        cmd.pre_exec(setup);
    }
}
