//! The signature library, playbooks and engine-flag table compiled into the
//! binary (see build.rs).
include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
