//! Integration tests of the Flowgate core over HTTP: every test starts the real server on a free
//! loopback port with its own fresh data directory (`helpers::spawn_app`). One binary, one link.

mod auth;
mod control;
mod executor;
mod helpers;
mod http;
mod integrations;
mod isolation;
mod loops;
mod ops;
mod references;
mod retention;
mod schedule;
mod session;
mod slack;
mod sns;
mod spot;
mod story;
mod webhooks;
mod workflows;
