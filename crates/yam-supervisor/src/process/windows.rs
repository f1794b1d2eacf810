//! Windows: a job object that kills the whole tree when the supervisor goes away, and no
//! console window for the children. Compile-checked here (x86_64-pc-windows-gnu), not run.

use std::io;
use std::net::TcpListener;
use std::process::Stdio;

use process_wrap::tokio::{ChildWrapper, CommandWrap, CreationFlags, JobObject, KillOnDrop};
use tokio::io::AsyncWriteExt as _;
use windows::Win32::System::Threading::CREATE_NO_WINDOW;

pub fn isolate(command: &mut CommandWrap) {
    command.wrap(CreationFlags(CREATE_NO_WINDOW));
    command.wrap(JobObject);
    command.wrap(KillOnDrop);
}

/// The child reads its sockets from standard input (a pipe only it holds).
pub fn expect_hand_over(command: &mut CommandWrap) {
    let (key, value) = yam_net::handover::windows::ENV;
    command.command_mut().env(key, value).stdin(Stdio::piped());
}

/// Duplicates the public and the control socket for process `pid` and sends it the
/// protocol information (then closes its standard input).
pub async fn hand_over(
    child: &mut dyn ChildWrapper,
    pid: u32,
    public: &TcpListener,
    control: &TcpListener,
) -> io::Result<()> {
    let message = yam_net::handover::windows::message_for(pid, public, control)?;
    let mut stdin = child
        .stdin()
        .take()
        .ok_or_else(|| io::Error::other("the server has no standard input to hand sockets over"))?;
    stdin.write_all(message.as_bytes()).await?;
    stdin.shutdown().await?;
    Ok(())
}
