//! The signature library and playbooks compiled into the binary (see build.rs).
include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
