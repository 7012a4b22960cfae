//! The in-cluster controller: watch → evidence → diagnose → propose →
//! approve → execute → verify.
pub mod config;
