//! Stand-ins for the outside services Flowgate talks to: real HTTP servers on loopback that
//! behave like the real APIs (see `protocols.md`), for tests and benchmarks.

pub mod slack;
pub mod sns;
pub mod spot;

pub use spot::SpotStandin;
