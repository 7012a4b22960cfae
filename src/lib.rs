//! podmedic: diagnoses crash-looping LLM serving pods and proposes targeted,
//! human-approved fixes. See DESIGN.md for the flow; each module's docs say
//! what it owns.
pub mod actions;
pub mod approval;
pub mod chatops;
pub mod class;
pub mod classifier;
pub mod cli;
pub mod controller;
pub mod crd;
pub mod diagnosis;
pub mod embedded;
pub mod engine;
pub mod evidence;
pub mod logtext;
pub mod metrics;
pub mod playbook;
pub mod problem;
pub mod server;
pub mod signals;
pub mod signatures;
pub mod triage;
pub mod trust;
pub mod util;
pub mod yaml;
