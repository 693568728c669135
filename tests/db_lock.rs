//! Claim (DESIGN promise 4): one owner at a time. A second open of the same directory in
//! this process gets `Locked`; after close, the database opens again. A directory that is
//! not a database is refused and left untouched.
#![allow(clippy::unwrap_used)]

use browserdb::engine::{Db, Error, Options};

#[test]
fn second_open_is_locked_until_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Db::open(&path, Options::default()).unwrap();
    assert!(matches!(Db::open(&path, Options::default()), Err(Error::Locked { .. })));
    // The same directory through another spelling is the same database.
    let other_spelling = dir.path().join("db/../db");
    assert!(matches!(Db::open(&other_spelling, Options::default()), Err(Error::Locked { .. })));
    db.put(b"k", b"v", true).unwrap();
    db.close().unwrap();
    let db = Db::open(&path, Options::default()).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
    db.close().unwrap();
}

#[test]
fn a_foreign_directory_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    let result = Db::open(dir.path(), Options::default());
    assert!(matches!(result, Err(Error::NotADatabase(_))), "{:?}", result.map(|_| ()));
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("notes.txt")]);
    assert_eq!(std::fs::read(dir.path().join("notes.txt")).unwrap(), b"mine");
}

#[test]
fn create_if_missing_and_error_if_exists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/db");
    let no_create = Options { create_if_missing: false, ..Options::default() };
    assert!(matches!(Db::open(&path, no_create.clone()), Err(Error::NotFound(_))));
    assert!(!path.exists());
    Db::open(&path, Options::default()).unwrap().close().unwrap();
    let must_not_exist = Options { error_if_exists: true, ..Options::default() };
    assert!(matches!(Db::open(&path, must_not_exist), Err(Error::Exists(_))));
    Db::open(&path, no_create).unwrap().close().unwrap();
}
