//! The drivers behind `credit`'s commands, in the library so that tests can reach them;
//! `src/main.rs` parses the command line and calls them.
pub mod reproduce;
pub mod run;
pub mod search;
