//! Server start and stop: data folder, users, sessions, markers, bind, serve, clean shutdown.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use yam_net::handover::Sockets;
use yam_sessions::{
    Clock, ManagerSettings, SessionManager, SessionMode, SessionStore, SystemClock,
};

use crate::app::app;
use crate::background::{Upkeep, consume_force_reset};
use crate::cli::{OnRestart, ServeArgs};
use crate::config::{ModeInputs, SessionSettings, resolve_session_settings};
use crate::control_token::{ControlToken, TOKEN_ENV};
use crate::markers::{
    MULTIPLE_SESSIONS_ALLOWED, Markers, SERVER_SHUTDOWN, SERVER_STARTUP,
    SESSION_CONFLICT_RESOLUTION,
};
use crate::paths::{DataDir, INITIAL_ADMIN_PASSWORD, USERS_DB, absolute};
use crate::session_store::{StoreChoice, open_folder, open_redis};
use crate::state::{AppState, ServerFacts, Stop};
use crate::throttle::{LoginThrottle, ThrottlePolicy};
use crate::users::Users;
use crate::users::first_run::{FirstRun, ensure_admin};
use crate::users::passwords::PasswordChecker;

/// How long in-flight requests get after Ctrl-C/SIGTERM before the server stops anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// After a stop, keep-alive connections get this long to send one more request (answered
/// with `Connection: close`): a busy client then moves to the next server without a failed
/// request.
const HANDOVER_LINGER: Duration = Duration::from_secs(1);

/// Runs the server until it is told to stop. `handed`: the listening sockets a supervisor
/// passed (then the port is the supervisor's, shared with the next server it starts);
/// without them the server binds `--host`/`--port` itself.
pub async fn serve(args: ServeArgs, handed: Option<Sockets>) -> anyhow::Result<()> {
    let open_files = yam_net::raise_open_files_limit();
    let data = DataDir::resolve(args.data.data_dir.as_deref())?;
    data.create()
        .with_context(|| format!("cannot create the data folder {}", data.root().display()))?;
    // Flags are checked before anything is created (a first-run admin included).
    let choice = args.sessions.choice()?;
    let markers = Markers::new(data.root());
    let settings = session_settings(&args, &markers);
    log_settings(&settings);

    let control_token = ControlToken::from_env_or_random(std::env::var(TOKEN_ENV).ok().as_deref())?;
    // A PostgreSQL database is reached with a blocking client: opened off the async workers.
    let (users_db, users_file, password_file) = (
        args.users.database.clone(),
        data.file(USERS_DB),
        data.file(INITIAL_ADMIN_PASSWORD),
    );
    let (users, first_run) = tokio::task::spawn_blocking(move || {
        let users = Users::open(users_db.as_deref(), &users_file)?;
        let first_run = ensure_admin(&users, &password_file)?;
        anyhow::Ok((Arc::new(users), first_run))
    })
    .await??;
    tracing::info!(users = %users.describe(), "Users database");
    if let FirstRun::AdminCreated(path) = first_run {
        tracing::warn!(
            "First start: created user 'admin'; its password is in {}",
            path.display()
        );
    }

    let sessions_dir = match &choice {
        StoreChoice::Folder(Some(dir)) => Some(absolute(dir)?),
        StoreChoice::Folder(None) => Some(data.default_sessions_dir()),
        StoreChoice::Redis { .. } => None,
    };
    let seal = record_seal(args.form_secret.as_deref(), &choice, &data)?;
    let store = open_sessions(&choice, sessions_dir.as_deref(), args.on_restart, seal)?;
    let form_secret = form_secret(args.form_secret.as_deref())?;
    if let Some(name) = &args.instance {
        anyhow::ensure!(
            axum::http::HeaderValue::from_str(name).is_ok() && !name.trim().is_empty(),
            "--instance (YAM_INSTANCE) must be a plain name such as `yam-1`, not {name:?}"
        );
    }
    let clock = SystemClock;
    let started = clock.now();
    let sessions = Arc::new(SessionManager::new(
        store,
        users.clone(),
        Arc::new(clock),
        ManagerSettings {
            mode: settings.mode,
            conflict_resolution: settings.conflict_resolution,
            epoch: yam_sessions::policy::new_epoch(started),
            max_sessions_per_user: args.max_sessions_per_user,
        },
    ));
    consume_force_reset(&sessions, &markers)?;

    let (listener, control) = match handed {
        Some(sockets) => {
            let public = from_std(sockets.public)?;
            let control = from_std(sockets.control)?;
            tracing::info!(
                public = %public.local_addr()?,
                control = %control.local_addr()?,
                "Serving on the sockets the supervisor handed over (the port stays open across restarts)"
            );
            (public, Some(control))
        }
        None => (bind(&args.host, args.port).await?, None),
    };
    let local = listener.local_addr()?;
    let url = format!("http://{}", display_addr(local));
    markers.remove(SERVER_SHUTDOWN)?;
    markers.write(
        SERVER_STARTUP,
        &[
            ("started_at", started.to_rfc3339()),
            ("pid", std::process::id().to_string()),
            ("url", url.clone()),
            ("host", args.host.clone()),
            ("port", local.port().to_string()),
            ("epoch", sessions.epoch().to_owned()),
            (
                "multiple_sessions",
                (settings.mode == SessionMode::Multiple).to_string(),
            ),
            (
                "session_conflict_resolution",
                settings.conflict_resolution.to_string(),
            ),
            ("on_restart", args.on_restart.as_str().to_owned()),
            (
                "sessions_dir",
                sessions_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
            ),
            ("store", choice.describe()),
            ("version", env!("CARGO_PKG_VERSION").to_owned()),
        ],
    )?;
    // Before the banner: whoever waits for the address (a script, the supervisor) finds the
    // token there.
    let token_file = control_token.write_file(data.root())?;
    tracing::info!(
        "Control token for admin scripts is in {}",
        token_file.display()
    );
    print_banner(local, &url, &data);
    let (stop, _) = tokio::sync::watch::channel(None);
    let state = Arc::new(AppState {
        sessions: sessions.clone(),
        users,
        passwords: PasswordChecker::new(password_permits()),
        facts: ServerFacts {
            version: env!("CARGO_PKG_VERSION"),
            started,
            run_mode: args.mode.as_str(),
            debug: args.debug,
            on_restart: args.on_restart,
            data_dir: data.root().to_path_buf(),
            sessions_dir: sessions_dir.clone(),
            store: choice.describe(),
            instance: args.instance.clone(),
            trusted_proxies: crate::forwarded::TrustedProxies::new(args.trusted_proxy.clone()),
            open_files,
        },
        control_token,
        form_secret,
        throttle: Mutex::new(LoginThrottle::new(ThrottlePolicy::default())),
        stop,
    });
    let upkeep = Upkeep::start(state.clone(), markers.clone());
    let why = run_until_shutdown(listener, control, state.clone()).await;
    upkeep.stop();
    // A successor on the same socket may have written its own token there by now.
    if ControlToken::read_file(data.root()).is_ok_and(|t| state.control_token.matches(&t)) {
        let _ = std::fs::remove_file(&token_file);
    }

    let flushed = tokio::task::spawn_blocking(move || sessions.flush_all()).await??;
    match why {
        Stop::Shutdown => {
            markers.write(
                SERVER_SHUTDOWN,
                &[
                    ("stopped_at", clock.now().to_rfc3339()),
                    ("pid", std::process::id().to_string()),
                    ("clean", "true".into()),
                ],
            )?;
            tracing::info!(renewals_written = flushed, "YAM server stopped");
        }
        Stop::Handover => tracing::info!(
            renewals_written = flushed,
            "YAM server stopped; the new server on the same socket goes on"
        ),
    }
    Ok(())
}

fn from_std(listener: std::net::TcpListener) -> anyhow::Result<TcpListener> {
    listener.set_nonblocking(true)?;
    Ok(TcpListener::from_std(listener)?)
}

fn session_settings(args: &ServeArgs, markers: &Markers) -> SessionSettings {
    resolve_session_settings(&ModeInputs {
        flag_allow_multiple: args.allow_multiple_sessions,
        env_allow_multiple: std::env::var("YAM_ALLOW_MULTIPLE_SESSIONS").ok(),
        env_conflict_resolution: std::env::var("YAM_SESSION_CONFLICT_RESOLUTION").ok(),
        marker_multiple: markers.exists(MULTIPLE_SESSIONS_ALLOWED),
        marker_conflict_resolution: markers.exists(SESSION_CONFLICT_RESOLUTION),
    })
}

fn log_settings(settings: &SessionSettings) {
    let from = settings.reasons.join(", ");
    match settings.mode {
        SessionMode::Multiple => {
            tracing::info!(from = %from, "Multiple sessions mode enabled (4 h sessions, renewed by activity)")
        }
        SessionMode::Single => tracing::info!(
            "Single session mode (2 h sessions; a new login ends the user's other session)"
        ),
    }
    if settings.conflict_resolution {
        tracing::info!(from = %from, "Session conflict resolution enabled");
    }
}

fn open_sessions(
    choice: &StoreChoice,
    folder: Option<&Path>,
    on_restart: OnRestart,
    seal: yam_sessions::RecordSeal,
) -> anyhow::Result<Arc<dyn SessionStore>> {
    let store: Arc<dyn SessionStore> = match (choice, folder) {
        (StoreChoice::Redis { url, prefix }, _) => {
            let store = open_redis(url, prefix, seal)?;
            tracing::info!(redis = %store.address(), prefix = %prefix, "Sessions are in Redis, shared by every server that uses it");
            Arc::new(store)
        }
        (StoreChoice::Folder(_), Some(dir)) => Arc::new(open_folder(dir)?),
        (StoreChoice::Folder(_), None) => anyhow::bail!("no sessions folder"),
    };
    if on_restart == OnRestart::Clear {
        if choice.is_shared() {
            tracing::warn!(
                "--on-restart clear with a shared store ends the sessions of every server that uses it"
            );
        }
        let cleared = store.delete_all()?;
        tracing::info!(cleared, "Cleared existing sessions (--on-restart clear)");
    }
    Ok(store)
}

/// The file that keeps a Redis deployment's seal key when no shared secret is given.
pub const SEAL_KEY_FILE: &str = "session-seal-key";

/// How session records in Redis are sealed: with a key derived from the shared secret (every
/// server of the deployment has it), else with a key this data folder keeps (one server,
/// across restarts). A folder store needs none: whoever can write the folder is this user.
fn record_seal(
    shared: Option<&str>,
    choice: &StoreChoice,
    data: &DataDir,
) -> anyhow::Result<yam_sessions::RecordSeal> {
    use yam_sessions::RecordSeal;
    if !choice.is_shared() {
        return Ok(RecordSeal::Unchecked);
    }
    if let Some(secret) = shared.map(str::trim).filter(|s| !s.is_empty()) {
        return Ok(RecordSeal::from_secret(
            format!("yam session seal\n{secret}").as_bytes(),
        ));
    }
    let path = data.file(SEAL_KEY_FILE);
    let kept = yam_sessions::private::read_owned(&path, 4096, false)
        .ok()
        .and_then(|text| hex::decode(text.trim()).ok())
        .filter(|key| key.len() == 32);
    if kept.is_some() {
        // Narrowed, never replaced: a new key would refuse every session the old one sealed.
        let _ = crate::paths::restrict_to_owner(&path, 0o600);
    }
    let key = match kept {
        Some(key) => key,
        None => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key)?;
            crate::paths::write_private(&path, &hex::encode(key)).with_context(|| {
                format!("cannot keep the session seal key in {}", path.display())
            })?;
            tracing::info!(
                "Sessions in Redis are sealed with a key kept in {}; several servers sharing \
                 one Redis need the same --form-secret instead",
                path.display()
            );
            key.to_vec()
        }
    };
    Ok(RecordSeal::from_secret(&key))
}

/// The CSRF secret: derived from the shared one (several servers accept each other's forms),
/// or random per start.
fn form_secret(shared: Option<&str>) -> anyhow::Result<[u8; 32]> {
    use sha2::Digest as _;
    match shared.map(str::trim).filter(|s| !s.is_empty()) {
        Some(secret) => {
            anyhow::ensure!(
                secret.chars().count() >= 32,
                "--form-secret (YAM_FORM_SECRET) must be at least 32 characters"
            );
            Ok(sha2::Sha256::digest(format!("yam form secret\n{secret}").as_bytes()).into())
        }
        None => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret)?;
            Ok(secret)
        }
    }
}

async fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    match TcpListener::bind((host, port)).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => anyhow::bail!(
            "port {port} on {host} is already in use: another YAM server or another program is \
             listening there. Stop it, or start with --port <another port>."
        ),
        Err(e) => Err(anyhow::anyhow!("cannot listen on {host}:{port}: {e}")),
    }
}

fn display_addr(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => format!("127.0.0.1:{}", addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => format!("[::1]:{}", addr.port()),
        _ => addr.to_string(),
    }
}

/// The address other machines would use, found without sending a packet.
fn lan_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:80").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn print_banner(local: SocketAddr, url: &str, data: &DataDir) {
    println!(
        " * YAM server {} running on {url}",
        env!("CARGO_PKG_VERSION")
    );
    if local.ip().is_unspecified()
        && let Some(ip) = lan_ip()
    {
        println!(" * Running on http://{ip}:{} (LAN)", local.port());
    }
    println!(" * Data folder: {}", data.root().display());
    let password_file = data.file(INITIAL_ADMIN_PASSWORD);
    if password_file.is_file() {
        println!(
            " * First-run admin: log in as 'admin' with the password in {}",
            password_file.display()
        );
    }
}

/// One hash per core, and at least two: one address may hold only one (throttle.rs), so a
/// guessing address can never keep a real login waiting for a hash place.
fn password_permits() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2)
}

/// Serves the public listener (and the supervisor's control listener) until a stop is asked;
/// why it stopped.
async fn run_until_shutdown(
    listener: TcpListener,
    control: Option<TcpListener>,
    state: Arc<AppState>,
) -> Stop {
    let stop_tx = state.stop.clone();
    let options = yam_net::ServeOptions {
        grace: SHUTDOWN_GRACE,
        linger: HANDOVER_LINGER,
        unshared: state.facts.trusted_proxies.addresses(),
        ..yam_net::ServeOptions::new("YAM server", state.facts.open_files)
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("Shutting down: finishing requests in flight");
        stop_tx.send_if_modified(|current| {
            let first = current.is_none();
            current.get_or_insert(Stop::Shutdown);
            first
        });
    });
    let stopped = |state: &Arc<AppState>| {
        let mut stop_rx = state.stop.subscribe();
        async move {
            let _ = stop_rx.wait_for(Option::is_some).await;
        }
    };
    let public = yam_net::serve(
        listener,
        app(state.clone()),
        options.clone(),
        stopped(&state),
    );
    match control {
        Some(control) => {
            let control_options = yam_net::ServeOptions {
                name: "YAM server (supervisor's control socket)",
                linger: Duration::ZERO,
                // Only the supervisor connects here: no share to keep.
                per_address: options.max_connections,
                ..options
            };
            let control = yam_net::serve(
                control,
                app(state.clone()),
                control_options,
                stopped(&state),
            );
            tokio::join!(public, control);
        }
        None => public.await,
    }
    let why = *state.stop.borrow();
    why.unwrap_or(Stop::Shutdown)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
