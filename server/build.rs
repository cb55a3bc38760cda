//! Lists the schema migrations for `storage/mod.rs`: every `migrations/NNNN_<what>.sql`, in
//! order. A feature adds its tables by adding a file with the next number; a gap or a number
//! used twice stops the build here rather than a server at startup.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join("migrations");
    println!("cargo::rerun-if-changed={}", dir.display());

    let mut migrations: Vec<(i64, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .map(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let version = name
                .split_once('_')
                .and_then(|(number, _)| number.parse().ok())
                .unwrap_or_else(|| {
                    panic!("migrations/{name}: a migration is named by its number, as 0010_petitions.sql")
                });
            (version, path)
        })
        .collect();
    migrations.sort();
    for (expected, (version, path)) in (1..).zip(&migrations) {
        assert!(
            *version == expected,
            "{}: migration {expected} is missing or numbered twice; they run 1, 2, 3... in order",
            path.display()
        );
    }

    let mut list = String::from("&[\n");
    for (version, path) in &migrations {
        writeln!(
            list,
            "    ({version}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a string");
    }
    list.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("migrations.rs");
    std::fs::write(&out, list).unwrap_or_else(|error| panic!("{}: {error}", out.display()));
}
