//! yam-server: YAM's HTTP session contract with enhanced session management.

pub mod admin_auth;
pub mod app;
pub mod auth;
pub mod background;
pub mod cli;
pub mod config;
pub mod control_token;
pub mod csrf;
pub mod error;
pub mod forwarded;
pub mod html;
pub mod markers;
pub mod offline;
pub mod paths;
pub mod routes;
pub mod selftest;
pub mod serve;
pub mod session_store;
pub mod state;
pub mod throttle;
pub mod users;

pub use app::app;
