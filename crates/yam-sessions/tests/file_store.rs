//! Behaviour only the file backend has: files on disk, scans, damage, foreign files.

use std::fs;
use std::time::Duration;

use yam_sessions::{
    ClientInfo, DamageKind, FileStore, Loaded, SessionMode, SessionPolicy, SessionRecord,
    SessionStore, Timestamp,
};

const NOW: Timestamp = Timestamp(1_800_000_000_000);

fn record(user_id: i64) -> SessionRecord {
    SessionPolicy::new(SessionMode::Multiple).new_record(
        user_id,
        "alice",
        ClientInfo::default(),
        NOW,
        "e1",
    )
}

#[test]
fn files_are_named_by_hash_never_by_id_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, report) = FileStore::open(dir.path()).expect("open");
    assert_eq!(report.sessions, 0);
    let id = store.create(record(1)).expect("create");
    let names: Vec<_> = fs::read_dir(dir.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
        .collect();
    assert_eq!(names, vec![format!("{}.json", id.key().to_hex())]);
    let content = fs::read_to_string(dir.path().join(&names[0])).expect("read");
    assert!(!content.contains(id.as_str()), "the secret id is on disk");
    drop(store);

    let (reopened, report) = FileStore::open(dir.path()).expect("reopen");
    assert_eq!(report.sessions, 1);
    assert!(matches!(
        reopened.load(&id.key()).expect("load"),
        Loaded::Found(_)
    ));
}

#[test]
fn scan_ignores_foreign_and_temp_files_and_reports_damage() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path();
    fs::write(p.join(".gitkeep"), b"").expect("w");
    fs::write(
        p.join("2029240f6d1128be89ddc32729463129"),
        b"\x00\x00\x00\x00flask",
    )
    .expect("w");
    // A temp file of a write in progress (the store's own name), and a look-alike that is not.
    fs::write(p.join(format!(".{}.tmp0123456789ab", "a".repeat(64))), b"{").expect("w");
    fs::write(p.join(".notes.tmp"), b"mine").expect("w");
    fs::write(p.join(format!("{}.json", "b".repeat(64))), b"").expect("w");
    fs::write(
        p.join(format!("{}.json", "c".repeat(64))),
        b"{\"version\":1,\"user",
    )
    .expect("w");
    fs::write(
        p.join(format!("{}.json", "d".repeat(64))),
        b"{\"version\":42}",
    )
    .expect("w");
    fs::create_dir(p.join(".quarantine")).expect("mkdir");
    fs::write(
        p.join(format!(".quarantine/{}.json.1", "e".repeat(64))),
        record(1).to_json(),
    )
    .expect("w");

    let (store, report) = FileStore::open(p).expect("open");
    assert_eq!((report.sessions, report.damaged, report.foreign), (0, 3, 3));
    let counts = store.counts(NOW, Duration::ZERO).expect("counts");
    assert_eq!((counts.live, counts.damaged), (0, 3));
    // The fresh temp file may belong to a writer that is still running: left alone.
    assert_eq!(report.stale_temp_removed, 0);
    assert!(
        p.join(".gitkeep").exists(),
        "foreign files are never touched"
    );

    assert_eq!(store.delete_all().expect("clear"), 3);
    assert!(p.join(".gitkeep").exists());
    assert!(p.join(".notes.tmp").exists());
    assert!(p.join("2029240f6d1128be89ddc32729463129").exists());
    assert_eq!(
        store.counts(NOW, Duration::ZERO).expect("counts").damaged,
        0
    );
}

#[test]
fn damaged_files_load_as_damage_not_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = FileStore::open(dir.path()).expect("open");
    let key = store.create(record(5)).expect("create").key();
    let path = dir.path().join(format!("{}.json", key.to_hex()));
    type IsExpected = fn(&DamageKind) -> bool;
    let cases: Vec<(Vec<u8>, IsExpected)> = vec![
        (Vec::new(), |k| *k == DamageKind::Empty),
        (b"not json at all \xff".to_vec(), |k| {
            *k == DamageKind::InvalidJson
        }),
        (b"{\"version\":2,\"user_id\":5}".to_vec(), |k| {
            *k == DamageKind::UnknownVersion(Some(2))
        }),
        (vec![b' '; 300 * 1024], |k| {
            matches!(k, DamageKind::TooLarge(_))
        }),
    ];
    for (bytes, expected) in cases {
        fs::write(&path, &bytes).expect("write");
        match store.load(&key).expect("load") {
            Loaded::Damaged(d) => assert!(expected(&d.kind), "{:?}", d.kind),
            other => panic!("expected damage, got {other:?}"),
        }
    }
}

#[test]
fn a_file_deleted_outside_the_store_ends_the_session() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = FileStore::open(dir.path()).expect("open");
    let key = store.create(record(1)).expect("create").key();
    fs::remove_file(dir.path().join(format!("{}.json", key.to_hex()))).expect("rm");
    assert_eq!(store.load(&key).expect("load"), Loaded::Missing);
    assert_eq!(store.counts(NOW, Duration::ZERO).expect("counts").live, 0);
}

#[test]
fn a_file_rewritten_outside_the_store_is_reread() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = FileStore::open(dir.path()).expect("open");
    let key = store.create(record(1)).expect("create").key();
    let mut changed = record(1);
    changed.username = "changed".into();
    let path = dir.path().join(format!("{}.json", key.to_hex()));
    let tmp = dir.path().join("elsewhere");
    fs::write(&tmp, changed.to_json()).expect("w");
    fs::rename(&tmp, &path).expect("mv");
    match store.load(&key).expect("load") {
        Loaded::Found(r) => assert_eq!(r.username, "changed"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unusable_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("plain-file");
    fs::write(&file, b"x").expect("w");
    let err = FileStore::open(file.join("sessions"))
        .err()
        .expect("must fail");
    let text = err.to_string();
    assert!(text.contains("plain-file"), "{text}");
}

#[test]
fn quarantine_keeps_a_copy_out_of_the_way() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = FileStore::open(dir.path()).expect("open");
    let key = store.create(record(1)).expect("create").key();
    store.quarantine(&key).expect("q");
    let kept: Vec<_> = fs::read_dir(dir.path().join(".quarantine"))
        .expect("ls")
        .collect();
    assert_eq!(kept.len(), 1);
    let (_, report) = FileStore::open(dir.path()).expect("reopen");
    assert_eq!((report.sessions, report.damaged, report.foreign), (0, 0, 0));
}
