//! Unix: the sockets travel as inherited descriptors 3 and 4 (`LISTEN_FDS`).
#![allow(unsafe_code)]

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};

use super::{NAMES, Sockets};

/// The first inherited descriptor (after stdin, stdout, stderr).
const FIRST_FD: RawFd = 3;

/// The variables that announce the sockets to the child.
pub fn child_env() -> [(&'static str, String); 2] {
    [
        ("LISTEN_FDS", NAMES.len().to_string()),
        ("LISTEN_FDNAMES", NAMES.join(":")),
    ]
}

/// For `pre_exec`: puts `public` and `control` on descriptors 3 and 4 of the child, without
/// close-on-exec, whatever numbers they have in the parent. Only async-signal-safe calls.
pub fn child_setup(
    public: &impl AsRawFd,
    control: &impl AsRawFd,
) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
    let sources = [public.as_raw_fd(), control.as_raw_fd()];
    move || {
        // First out of the way (above every target), so one dup2 cannot close the other's
        // source; these copies are close-on-exec and vanish at exec.
        let mut high = [0; 2];
        for (slot, fd) in high.iter_mut().zip(sources) {
            // SAFETY: fcntl on a descriptor this process holds; async-signal-safe.
            let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
            if copy < 0 {
                return Err(io::Error::last_os_error());
            }
            *slot = copy;
        }
        for (i, fd) in high.into_iter().enumerate() {
            let target = FIRST_FD + i as RawFd;
            // SAFETY: dup2 onto a fixed number; the copy it makes has no close-on-exec.
            if unsafe { libc::dup2(fd, target) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

pub(super) fn inherited() -> io::Result<Option<Sockets>> {
    let Ok(count) = std::env::var("LISTEN_FDS") else {
        return Ok(None);
    };
    if let Ok(pid) = std::env::var("LISTEN_PID")
        && !pid.is_empty()
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        // Meant for another process (our parent): not ours.
        return Ok(None);
    }
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    // SAFETY: called at the start of `main`, before any other thread exists.
    unsafe {
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
        std::env::remove_var("LISTEN_PID");
    }
    if count.trim() != NAMES.len().to_string() || names != NAMES.join(":") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "LISTEN_FDS={count} LISTEN_FDNAMES={names}: expected {} sockets named {}",
                NAMES.len(),
                NAMES.join(":")
            ),
        ));
    }
    let public = listener_at(FIRST_FD)?;
    let control = listener_at(FIRST_FD + 1)?;
    Ok(Some(Sockets { public, control }))
}

/// Takes descriptor `fd` as a listening TCP socket, after checking that it is one.
fn listener_at(fd: RawFd) -> io::Result<TcpListener> {
    let not_ours = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} is {what}, not a listening TCP socket"),
        )
    };
    // SAFETY: fstat fills a zeroed struct for a descriptor number; a closed one fails.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return Err(not_ours("not open"));
    }
    if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(not_ours("a file"));
    }
    let flag = |level, name| -> io::Result<libc::c_int> {
        let mut value: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`.
        let r = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &raw mut len) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(value)
    };
    if flag(libc::SOL_SOCKET, libc::SO_TYPE)? != libc::SOCK_STREAM {
        return Err(not_ours("a datagram socket"));
    }
    if flag(libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? == 0 {
        return Err(not_ours("a socket that is not listening"));
    }
    // SAFETY: fcntl on the descriptor just checked.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is an open listening socket that nothing else in this process
    // owns (it was inherited); the listener takes it over.
    Ok(unsafe { TcpListener::from_raw_fd(fd) })
}
