//! A small client of Chromium's DevTools protocol over `--remote-debugging-pipe`: the
//! browser reads NUL-terminated JSON commands on its fd 3 and writes replies and events
//! on its fd 4. The test hands it two FIFOs as those fds (a shell's redirections), so
//! no DevTools port is opened and no WebSocket client is needed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use serde_json::{json, Value};

use crate::common::netns::Netns;
use crate::harness::{lines_of, DEADLINE};

/// Headless Chromium in a network namespace, driven through its pipe.
pub(crate) struct Browser {
    child: Child,
    to: File,
    from: Receiver<Value>,
    stderr: Receiver<String>,
    next_id: u64,
    /// Events not yet waited for.
    events: VecDeque<Value>,
    /// What the pages said (console, uncaught exceptions), for failure messages.
    log: Vec<String>,
}

impl Browser {
    /// Starts `chromium --headless` in `ns` with its profile and home under `dir`.
    pub(crate) fn launch(ns: &Netns, dir: &Path) -> Browser {
        let (fifo_in, fifo_out) = (dir.join("cdp-in"), dir.join("cdp-out"));
        for f in [&fifo_in, &fifo_out] {
            let ok = Command::new("mkfifo").arg(f).status().unwrap().success();
            assert!(ok, "mkfifo {}", f.display());
        }
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut cmd = ns.cmd("sh");
        cmd.args([
            "-c",
            r#"exec "$0" "$@" 3<"$CDP_IN" 4>"$CDP_OUT""#,
            "chromium",
            "--headless",
            // As root, Chromium's sandbox cannot start; the namespace isolates it.
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1100,900",
            "--remote-debugging-pipe",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("about:blank")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("CDP_IN", &fifo_in)
        .env("CDP_OUT", &fifo_out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("chromium runs (install chromium)");
        let stderr = lines_of(child.stderr.take().unwrap());
        // Opening a FIFO waits for its other end: in a thread, so that a browser that
        // never starts fails the test at the deadline instead of hanging it.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let to = File::options().write(true).open(&fifo_in);
            let from = to.as_ref().ok().map(|_| File::open(&fifo_out));
            let _ = tx.send((to, from));
        });
        let (to, from) = match rx.recv_timeout(DEADLINE) {
            Ok((Ok(to), Some(Ok(from)))) => (to, from),
            other => panic!(
                "chromium did not open its DevTools pipe: {other:?}; it said {:#?}",
                stderr.try_iter().collect::<Vec<_>>()
            ),
        };
        let (tx, from_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for msg in BufReader::new(from).split(0).map_while(Result::ok) {
                let Ok(v) = serde_json::from_slice::<Value>(&msg) else {
                    continue;
                };
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Browser {
            child,
            to,
            from: from_rx,
            stderr,
            next_id: 0,
            events: VecDeque::new(),
            log: Vec::new(),
        }
    }

    /// Everything the pages and the browser said, for a failure message.
    pub(crate) fn said(&mut self) -> String {
        // Chromium's complaints that it has no system or session bus are noise here.
        let lines: Vec<String> = self
            .stderr
            .try_iter()
            .filter(|l| !l.contains(":ERROR:dbus/"))
            .map(|l| format!("stderr: {l}"))
            .collect();
        self.log.extend(lines);
        self.log.join("\n")
    }

    fn note(&mut self, v: Value) {
        let p = &v["params"];
        match v["method"].as_str() {
            Some("Runtime.consoleAPICalled") => {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| match &a["value"] {
                        Value::String(s) => s.clone(),
                        Value::Null => a["description"].as_str().unwrap_or("").to_owned(),
                        other => other.to_string(),
                    })
                    .collect();
                self.log
                    .push(format!("console.{}: {}", p["type"], args.join(" ")));
            }
            Some("Runtime.exceptionThrown") => {
                let d = &p["exceptionDetails"];
                let what = d["exception"]["description"].as_str().unwrap_or("");
                self.log.push(format!("exception: {} {what}", d["text"]));
            }
            _ => {}
        }
        self.events.push_back(v);
    }

    /// Sends `method` (to the page of `session`, or to the browser) and returns its
    /// result; fails the test on an error or at the deadline.
    pub(crate) fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.from.recv_timeout(left) {
                Ok(v) if v["id"] == id => {
                    assert!(
                        v["error"].is_null(),
                        "{method}: {}\n{}",
                        v["error"],
                        self.said()
                    );
                    return v["result"].clone();
                }
                Ok(v) => self.note(v),
                Err(e) => panic!("{method}: no answer: {e}\n{}", self.said()),
            }
        }
    }

    /// Waits for the event `method` of `session`.
    pub(crate) fn wait_event(&mut self, session: &str, method: &str) -> Value {
        let is = |v: &Value| v["method"] == method && v["sessionId"] == session;
        if let Some(i) = self.events.iter().position(is) {
            return self.events.remove(i).unwrap();
        }
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.from.recv_timeout(left) {
                Ok(v) if is(&v) => return v,
                Ok(v) => self.note(v),
                Err(e) => panic!("waiting for {method}: {e}\n{}", self.said()),
            }
        }
    }

    /// A new tab, attached, with its console followed; at `url` once loaded.
    pub(crate) fn open(&mut self, url: &str) -> String {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let session = attached["sessionId"].as_str().unwrap().to_owned();
        let s = Some(session.as_str());
        self.call(s, "Page.enable", json!({}));
        self.call(s, "Runtime.enable", json!({}));
        let nav = self.call(s, "Page.navigate", json!({ "url": url }));
        assert!(
            nav["errorText"].is_null(),
            "{url}: {}\n{}",
            nav["errorText"],
            self.said()
        );
        self.wait_event(&session, "Page.loadEventFired");
        session
    }

    /// The value of `expression` in the page (a promise is awaited).
    pub(crate) fn eval(&mut self, session: &str, expression: &str) -> Value {
        let r = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({ "expression": expression, "awaitPromise": true, "returnByValue": true }),
        );
        assert!(
            r["exceptionDetails"].is_null(),
            "{expression}: {}\n{}",
            r["exceptionDetails"],
            self.said()
        );
        r["result"]["value"].clone()
    }

    /// Waits until `condition` (a JS expression) is true in the page: the page checks
    /// it at each change of its document, and gives up before [`DEADLINE`]; the test
    /// then fails with `what`, the page's text and what it said.
    pub(crate) fn wait_for(&mut self, session: &str, what: &str, condition: &str) {
        let ms = DEADLINE.as_millis() * 2 / 3;
        let expr = format!(
            r#"new Promise((resolve) => {{
                const test = () => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }};
                if (test()) return resolve(true);
                const obs = new MutationObserver(() => {{
                    if (test()) {{ obs.disconnect(); resolve(true); }}
                }});
                obs.observe(document, {{ subtree: true, childList: true, attributes: true, characterData: true }});
                setTimeout(() => {{ obs.disconnect(); resolve(test()); }}, {ms});
            }})"#
        );
        if self.eval(session, &expr) != json!(true) {
            let text = self.eval(session, "document.body.innerText");
            panic!(
                "waiting for {what} ({condition}): not so after {ms} ms; the page shows:\n{}\n{}",
                text.as_str().unwrap_or(""),
                self.said()
            );
        }
    }

    /// A PNG of the whole page, `width` pixels wide.
    pub(crate) fn screenshot(&mut self, session: &str, width: u32) -> Vec<u8> {
        let height = self.eval(session, "document.documentElement.scrollHeight");
        let s = Some(session);
        self.call(
            s,
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        let shot = self.call(s, "Page.captureScreenshot", json!({ "format": "png" }));
        base64_decode(shot["data"].as_str().unwrap())
    }

    /// `Browser.close`, and the browser's exit.
    pub(crate) fn close(&mut self) {
        self.call(None, "Browser.close", json!({}));
        let _ = self.child.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (what `Page.captureScreenshot` sends), padding and all.
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:?}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c) << (18 - 6 * i);
        }
        for i in 0..chunk.len().saturating_sub(1) {
            out.push(n.to_be_bytes()[1 + i]);
        }
    }
    out
}

#[test]
fn base64_decodes_what_chromium_sends() {
    assert_eq!(base64_decode("iVBORw0KGgo="), b"\x89PNG\r\n\x1a\n");
    assert_eq!(base64_decode("YQ=="), b"a");
    assert_eq!(base64_decode("YWI="), b"ab");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
