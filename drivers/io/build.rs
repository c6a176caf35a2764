//! `LINGER_ACKS_UNOBSERVABLE`, set when linger-io is built, builds it as if the platform
//! showed no acknowledgements (`cfg(linger_acks_unobservable)`, which `RUSTFLAGS` can set as
//! well): how CI runs the real-socket suites in that profile on Linux, rebuilding linger-io and
//! what depends on it, not every dependency as a change of `RUSTFLAGS` does. Never set it for
//! a build you ship.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(linger_acks_unobservable)");
    println!("cargo::rerun-if-env-changed=LINGER_ACKS_UNOBSERVABLE");
    if std::env::var_os("LINGER_ACKS_UNOBSERVABLE").is_some() {
        println!("cargo::rustc-cfg=linger_acks_unobservable");
    }
}
