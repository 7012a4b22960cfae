//! Prints the path of the vendored etcd binary (used by tests/cluster/build).

fn main() {
    match etcd_bin_vendored::etcd_bin_path() {
        Ok(path) => println!("{}", path.display()),
        Err(err) => {
            eprintln!("etcd-bin-vendored: {err}");
            std::process::exit(1);
        }
    }
}
