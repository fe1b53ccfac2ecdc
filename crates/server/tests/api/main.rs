//! Integration tests of the Flowgate core over HTTP: every test starts the real server on a free
//! loopback port with its own fresh data directory (`helpers::spawn_app`). One binary, one link.

mod auth;
mod executor;
mod helpers;
mod isolation;
mod ops;
mod references;
mod retention;
mod slack;
mod story;
mod webhooks;
mod workflows;
