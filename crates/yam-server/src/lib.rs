//! yam-server: YAM's HTTP session contract with enhanced session management.

pub mod app;
pub mod auth;
pub mod background;
pub mod cli;
pub mod config;
pub mod error;
pub mod html;
pub mod markers;
pub mod paths;
pub mod routes;
pub mod serve;
pub mod state;
pub mod users;

pub use app::app;
