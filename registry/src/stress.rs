//! Many writers at once, as when many guests start together: 16 OS processes, and 16
//! threads, each with its own connection, each recording 50 NICs and then recording
//! them again as active, on one registry. Afterwards every record is there, exactly
//! once, with its last state, and no writer failed with `SQLITE_BUSY`.
//!
//! The processes are this test binary run again with [`CHILD_DB`] set, which makes
//! [`tests::stress_child`] do one writer's work instead of nothing.

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Barrier};
    use std::time::{Duration, Instant};

    use crate::testutil::{attachment, bridge, temp_db};
    use crate::{
        Attachment, AttachmentState, GuestName, LockStats, Recorded, Registry, SqliteRegistry,
        SCHEMA_VERSION,
    };

    /// Set in a child process: the database to write to.
    const CHILD_DB: &str = "VIFKIT_REGISTRY_STRESS_DB";
    /// Set in a child process: which writer it is.
    const CHILD_ID: &str = "VIFKIT_REGISTRY_STRESS_ID";
    /// Set in a child process: the bridge to record NICs on.
    const CHILD_BRIDGE: &str = "VIFKIT_REGISTRY_STRESS_BRIDGE";

    const WRITERS: u32 = 16;
    const NICS: u32 = 50;

    /// Writer `writer`'s NIC `devid`: domain `100 + writer`, an emulated twin on even
    /// devids, the guest name `ethN`.
    fn nic(writer: u32, devid: u32, bridge: &str, state: AttachmentState) -> Attachment {
        let mut a = attachment(100 + writer, devid, bridge);
        if devid % 2 == 1 {
            a.emulated = None;
        }
        a.guest_name = Some(GuestName::linux_default(devid));
        a.state = state;
        a
    }

    /// What one writer did and how long it waited.
    struct Report {
        elapsed: Duration,
        stats: LockStats,
    }

    /// One writer's work: 50 NICs recorded (each a new record), then each recorded again
    /// as active (each an update).
    fn write_all(reg: &SqliteRegistry, writer: u32, bridge: &str) -> Report {
        let start = Instant::now();
        for devid in 0..NICS {
            let a = nic(writer, devid, bridge, AttachmentState::Prepared);
            assert_eq!(
                reg.record(&a).unwrap(),
                Recorded::Inserted,
                "{writer}/{devid}"
            );
        }
        for devid in 0..NICS {
            let a = nic(writer, devid, bridge, AttachmentState::Active);
            assert_eq!(
                reg.record(&a).unwrap(),
                Recorded::Updated,
                "{writer}/{devid}"
            );
        }
        Report {
            elapsed: start.elapsed(),
            stats: reg.lock_stats(),
        }
    }

    /// Every NIC every writer recorded, in the registry's order.
    fn expected(bridge_of: impl Fn(u32) -> String) -> Vec<Attachment> {
        (0..WRITERS)
            .flat_map(|w| {
                let bridge = bridge_of(w);
                (0..NICS).map(move |d| nic(w, d, &bridge, AttachmentState::Active))
            })
            .collect()
    }

    fn summary(what: &str, wall: Duration, reports: &[Report]) {
        let waits: u64 = reports.iter().map(|r| r.stats.lock_waits).sum();
        let wait_ms: u64 = reports.iter().map(|r| r.stats.lock_wait_ms).sum();
        let retries: u64 = reports.iter().map(|r| r.stats.busy_retries).sum();
        let longest = reports.iter().map(|r| r.stats.longest_wait_ms).max();
        let slowest = reports.iter().map(|r| r.elapsed).max().unwrap_or_default();
        eprintln!(
            "registry stress, {what}: {} writes by {WRITERS} writers in {:.2} s (slowest \
             writer {:.2} s); lock waits {waits} ({wait_ms} ms in all, longest {} ms), busy \
             retries {retries}",
            WRITERS * NICS * 2,
            wall.as_secs_f64(),
            slowest.as_secs_f64(),
            longest.unwrap_or(0)
        );
    }

    /// One writer's work in a child process; a no-op in a normal test run.
    #[test]
    fn stress_child() {
        let Some(db) = std::env::var_os(CHILD_DB) else {
            return;
        };
        let id: u32 = std::env::var(CHILD_ID).unwrap().parse().unwrap();
        let bridge = std::env::var(CHILD_BRIDGE).unwrap();
        // Wait for the parent's go, so that every child starts at once.
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        let reg = SqliteRegistry::open(Path::new(&db)).unwrap();
        let r = write_all(&reg, id, &bridge);
        println!(
            "STRESS-CHILD {id} {} {} {} {} {}",
            r.elapsed.as_micros(),
            r.stats.lock_waits,
            r.stats.lock_wait_ms,
            r.stats.longest_wait_ms,
            r.stats.busy_retries
        );
    }

    fn parse_report(stdout: &str) -> Option<Report> {
        // The harness prints the test's name on the same line.
        let line = stdout
            .lines()
            .find_map(|l| l.find("STRESS-CHILD ").map(|at| &l[at..]))?;
        let n: Vec<u64> = line
            .split_whitespace()
            .skip(2)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let [us, lock_waits, lock_wait_ms, longest_wait_ms, busy_retries] = n[..] else {
            return None;
        };
        Some(Report {
            elapsed: Duration::from_micros(us),
            stats: LockStats {
                lock_waits,
                lock_wait_ms,
                longest_wait_ms,
                busy_retries,
            },
        })
    }

    #[test]
    fn sixteen_processes_lose_no_record() {
        let (_dir, path) = temp_db();
        let reg = SqliteRegistry::open(&path).unwrap();
        reg.add_bridge(&bridge("xenbr0")).unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut children: Vec<_> = (0..WRITERS)
            .map(|id| {
                Command::new(&exe)
                    .args([
                        "stress::tests::stress_child",
                        "--exact",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(CHILD_DB, &path)
                    .env(CHILD_ID, id.to_string())
                    .env(CHILD_BRIDGE, "xenbr0")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let start = Instant::now();
        for child in &mut children {
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"go\n").unwrap();
        }
        let mut reports = Vec::new();
        for (id, child) in children.into_iter().enumerate() {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "writer {id} failed ({}):\n{stdout}\n{stderr}",
                out.status
            );
            let report = parse_report(&stdout)
                .unwrap_or_else(|| panic!("writer {id} did not report:\n{stdout}\n{stderr}"));
            reports.push(report);
        }
        let wall = start.elapsed();
        summary("16 processes", wall, &reports);

        let all = reg.attachments().unwrap();
        assert_eq!(all.len(), 800);
        assert_eq!(all, expected(|_| "xenbr0".to_owned()));
        // Every write counted once: the bridge, 800 inserts, 800 updates.
        assert_eq!(reg.generation().unwrap(), 1 + 1600);
    }

    #[test]
    fn sixteen_threads_on_a_new_database_lose_no_record() {
        let (_dir, path) = temp_db();
        let barrier = Arc::new(Barrier::new(WRITERS as usize));
        let start = Instant::now();
        let threads: Vec<_> = (0..WRITERS)
            .map(|id| {
                let (path, barrier) = (path.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    // Every thread opens the new file at once: it is created and
                    // migrated exactly once.
                    let reg = SqliteRegistry::open(&path).unwrap();
                    let name = format!("xbr{id}");
                    reg.add_bridge(&bridge(&name)).unwrap();
                    write_all(&reg, id, &name)
                })
            })
            .collect();
        let reports: Vec<Report> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        summary("16 threads", start.elapsed(), &reports);

        let reg = SqliteRegistry::open(&path).unwrap();
        let all = reg.attachments().unwrap();
        assert_eq!(all.len(), 800);
        assert_eq!(all, expected(|w| format!("xbr{w}")));
        let mut names: Vec<String> = (0..WRITERS).map(|w| format!("xbr{w}")).collect();
        names.sort();
        let bridges: Vec<String> = reg
            .bridges()
            .unwrap()
            .into_iter()
            .map(|b| b.name.to_string())
            .collect();
        assert_eq!(bridges, names);
        assert_eq!(reg.generation().unwrap(), 16 + 1600);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
