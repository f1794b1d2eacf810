//! Windows: a job object that kills the whole tree when the supervisor goes away, and no
//! console window for the children. Compile-checked here (x86_64-pc-windows-gnu), not run.

use process_wrap::tokio::{CommandWrap, CreationFlags, JobObject, KillOnDrop};
use windows::Win32::System::Threading::CREATE_NO_WINDOW;

pub fn isolate(command: &mut CommandWrap) {
    command.wrap(CreationFlags(CREATE_NO_WINDOW));
    command.wrap(JobObject);
    command.wrap(KillOnDrop);
}
