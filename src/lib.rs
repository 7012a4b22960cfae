//! podmedic: diagnoses crash-looping LLM serving pods and proposes targeted,
//! human-approved fixes. See DESIGN.md for the flow; each module's docs say
//! what it owns.
pub mod class;
pub mod classifier;
pub mod diagnosis;
pub mod evidence;
pub mod logtext;
pub mod problem;
pub mod signatures;
pub mod util;
pub mod yaml;
