//! `yam-server user add|list|passwd|remove`. Passwords come from stdin or a prompt, never argv.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use super::Users;
use super::passwords::hash_password;
use crate::cli::{DatabaseArg, UserCommand};
use crate::markers::{Markers, SERVER_STARTUP};
use crate::offline::RunningServer;
use crate::paths::{DataDir, INITIAL_ADMIN_PASSWORD, USERS_DB};
use crate::session_store::{StoreArgs, open_offline};

pub fn run(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            username,
            email,
            admin,
            data,
            users: users_arg,
        } => {
            let (_, users) = open(data.data_dir.as_deref(), &users_arg)?;
            let password = read_new_password(&username)?;
            let id = users.add(
                &username,
                email.as_deref(),
                &hash_password(&password)?,
                admin,
            )?;
            println!(
                "Added user '{username}' (id {id}{}).",
                if admin { ", admin" } else { "" }
            );
        }
        UserCommand::List {
            data,
            users: users_arg,
        } => {
            let (_, users) = open(data.data_dir.as_deref(), &users_arg)?;
            println!(
                "{:<6} {:<24} {:<28} {:<6} {:<7}",
                "id", "username", "email", "admin", "active"
            );
            for u in users.list()? {
                println!(
                    "{:<6} {:<24} {:<28} {:<6} {:<7}",
                    u.info.id,
                    u.info.username,
                    // Written by an older version, an email may hold escape codes.
                    super::identity::printable(u.email.as_deref().unwrap_or("-")),
                    yes_no(u.info.is_admin),
                    yes_no(u.info.is_active)
                );
            }
        }
        UserCommand::Passwd {
            username,
            sessions,
            data,
            users: users_arg,
        } => {
            let (dir, users) = open(data.data_dir.as_deref(), &users_arg)?;
            let password = read_new_password(&username)?;
            let id = users.set_password(&username, &hash_password(&password)?)?;
            if username.eq_ignore_ascii_case("admin") {
                // The generated first-run password is no longer valid: do not leave it around.
                let _ = std::fs::remove_file(dir.file(INITIAL_ADMIN_PASSWORD));
            }
            let ended = end_sessions(&dir, &sessions, id)?;
            println!(
                "Password changed for '{username}'; {ended_sessions} ended.",
                ended_sessions = yam_sessions::words::count(ended, "session")
            );
        }
        UserCommand::Remove {
            username,
            sessions,
            data,
            users: users_arg,
        } => {
            let (dir, users) = open(data.data_dir.as_deref(), &users_arg)?;
            let removed = users.remove(&username)?;
            let ended = end_sessions(&dir, &sessions, removed.info.id)?;
            println!(
                "Removed user '{username}'; {ended_sessions} ended.",
                ended_sessions = yam_sessions::words::count(ended, "session")
            );
        }
    }
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn open(data_dir: Option<&Path>, database: &DatabaseArg) -> anyhow::Result<(DataDir, Users)> {
    let dir = DataDir::resolve(data_dir)?;
    dir.create()?;
    let users = Users::open(database.database.as_deref(), &dir.file(USERS_DB))?;
    Ok((dir, users))
}

/// The sessions folder the server uses: given, recorded by the running server, or default.
pub fn sessions_dir_for(dir: &DataDir, explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    Markers::new(dir.root())
        .read(SERVER_STARTUP)
        .ok()
        .and_then(|facts| facts.get("sessions_dir").map(PathBuf::from))
        .unwrap_or_else(|| dir.default_sessions_dir())
}

/// Ends the user's sessions: through the running server when there is one (it ends them
/// under its own locks, so a renewal in flight cannot bring one back), else in the store.
fn end_sessions(dir: &DataDir, sessions: &StoreArgs, user_id: i64) -> anyhow::Result<usize> {
    if let Some(server) = RunningServer::find(dir)? {
        return server.end_user_sessions(user_id);
    }
    match open_offline(&sessions.choice()?, dir)? {
        Some(store) => Ok(store.delete_by_user(user_id, None)?.len()),
        None => Ok(0),
    }
}

pub fn read_password_line(prompt: &str) -> anyhow::Result<Option<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(Some(rpassword::prompt_password(prompt)?));
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok((!password.is_empty()).then_some(password))
}

fn read_new_password(username: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on stdin");
        return Ok(password);
    }
    let first = rpassword::prompt_password(format!("New password for {username}: "))?;
    let second = rpassword::prompt_password("Repeat it: ")?;
    anyhow::ensure!(first == second, "the passwords do not match");
    Ok(first)
}
