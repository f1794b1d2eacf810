use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use yam_server::cli::{Cli, Command, ServeArgs};

// mimalloc: fewer cycles per request than the system allocator (measured in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Everything this program writes (users database, tokens, markers, logs) is for its
    // owner only, from the first byte; explicit modes are set too where it matters.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::User(cmd)) => yam_server::users::cli::run(cmd),
        Some(Command::ForceLogout { sessions, data }) => {
            yam_server::offline::force_logout(data.data_dir.as_deref(), &sessions)
        }
        Some(Command::Selftest { url, user }) => {
            return yam_server::selftest::main(&url, &user);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Before any thread exists: taking them clears the variables that announced them.
    let handed = yam_net::handover::inherited()
        .map_err(|e| anyhow::anyhow!("cannot use the sockets the supervisor handed over: {e}"))?;
    init_logging(args.debug);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(yam_server::serve::serve(args, handed))
}

fn init_logging(debug: bool) {
    let default = if debug { "debug,hyper=info" } else { "info" };
    let filter = EnvFilter::try_from_env("YAM_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
