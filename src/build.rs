//! Build script: rebuilds the binary when anything under `www/` changes, including files added
//! or removed (the web UI is embedded with `include_dir!`, which cargo does not track). Writes
//! nothing.

fn main() {
    println!("cargo:rerun-if-changed=www");
}
