//! A real etcd cluster for tests: members on free loopback ports, data in a temporary
//! directory, killed and waited for by pid, every member stopped on drop.

#![allow(missing_docs)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A cluster of `etcd` processes on 127.0.0.1.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    /// The network namespace the members run in (`None`: this process's).
    pub netns: Option<String>,
    /// The address the members listen on.
    pub ip: String,
    pub clients: Vec<u16>,
    peers: Vec<u16>,
    members: Vec<Option<Child>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Cluster {
    /// Starts `n` members on 127.0.0.1 and waits until the cluster answers.
    pub fn start(n: usize) -> Cluster {
        Cluster::start_in(n, None, "127.0.0.1")
    }

    /// Starts `n` members on `ip` inside network namespace `netns` (whose free ports
    /// are taken as this one's: a fresh namespace has none in use).
    pub fn start_in(n: usize, netns: Option<&str>, ip: &str) -> Cluster {
        if Command::new("etcd").arg("--version").output().is_err() {
            panic!("etcd is missing: install Debian's etcd-server (packaging/install-deps.sh)");
        }
        let dir = tempfile::tempdir().unwrap();
        let clients: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let peers: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut c = Cluster {
            dir,
            netns: netns.map(str::to_owned),
            ip: ip.to_owned(),
            clients,
            peers,
            members: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            c.start_member(i);
        }
        c.wait_healthy(Duration::from_secs(30));
        c
    }

    fn initial(&self) -> String {
        self.peers
            .iter()
            .enumerate()
            .map(|(i, p)| format!("m{i}=http://{}:{p}", self.ip))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Starts (or restarts) member `i` on its data directory.
    pub fn start_member(&mut self, i: usize) {
        assert!(self.members[i].is_none(), "member {i} runs already");
        let data: PathBuf = self.dir.path().join(format!("m{i}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("m{i}.log")))
            .unwrap();
        let ip = self.ip.clone();
        let child = self
            .command("etcd")
            .args(["--name", &format!("m{i}")])
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--listen-client-urls",
                &format!("http://{ip}:{}", self.clients[i]),
                "--advertise-client-urls",
                &format!("http://{ip}:{}", self.clients[i]),
                "--listen-peer-urls",
                &format!("http://{ip}:{}", self.peers[i]),
                "--initial-advertise-peer-urls",
                &format!("http://{ip}:{}", self.peers[i]),
                "--initial-cluster",
                &self.initial(),
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                "vifkit-test",
                "--heartbeat-interval",
                "100",
                "--election-timeout",
                "1000",
                "--logger",
                "zap",
                "--log-outputs",
                "stderr",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("etcd starts");
        self.members[i] = Some(child);
    }

    /// `program`, in the members' namespace (`ip netns exec` execs it: the child's pid
    /// is the program's).
    fn command(&self, program: &str) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]);
                c
            }
            None => Command::new(program),
        }
    }

    /// Kills member `i` (SIGKILL) and waits for it.
    pub fn kill_member(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `etcd://127.0.0.1:P1,...`.
    pub fn url(&self) -> String {
        let m: Vec<String> = self
            .clients
            .iter()
            .map(|p| format!("{}:{p}", self.ip))
            .collect();
        format!("etcd://{}", m.join(","))
    }

    /// Polls until a write through etcdctl succeeds (a leader, a quorum).
    pub fn wait_healthy(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let eps: Vec<String> = self
            .clients
            .iter()
            .map(|p| format!("http://{}:{p}", self.ip))
            .collect();
        loop {
            let ok = self
                .command("etcdctl")
                .env("ETCDCTL_API", "3")
                .args([
                    "--endpoints",
                    &eps.join(","),
                    "--dial-timeout",
                    "1s",
                    "--command-timeout",
                    "2s",
                    "put",
                    "/health-probe",
                    "1",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = (0..self.clients.len())
                    .map(|i| {
                        std::fs::read_to_string(self.dir.path().join(format!("m{i}.log")))
                            .unwrap_or_default()
                    })
                    .collect();
                panic!(
                    "the etcd cluster did not become healthy; logs:\n{}",
                    logs.join("\n---\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
    }
}
