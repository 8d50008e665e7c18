//! `retort serve` end to end: the server on 127.0.0.1 with an ephemeral port, started by each
//! test, driven by the official `openai` Python package, by curl, and by raw HTTP for the
//! inputs no well-behaved client sends.
#![cfg(feature = "serve")]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const MODEL: &str = "smollm2-135m-instruct-q4_1";

/// A running `retort serve`; stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        // Pulled if need be; the server is given the catalog name, which it serves under.
        support::model_path(MODEL);
        let mut child = Command::new(env!("CARGO_BIN_EXE_retort"))
            .args(["serve", "--port", "0", "-m", MODEL])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start retort serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                }
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("the server did not start: {}", log.lock().unwrap()));
        Server { child, addr, log }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn request(&self, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Response {
        http(self.addr, method, path, headers, body)
    }

    fn post(&self, path: &str, body: &Value) -> Response {
        self.request("POST", path, &[], body.to_string().as_bytes())
    }

    fn health(&self) -> Value {
        self.request("GET", "/health", &[], b"").json()
    }

    /// Waits (as a hang guard, generous for a loaded machine) until every slot is idle.
    fn wait_idle(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let h = self.health();
            if h["slots"]["busy"] == 0 {
                return h;
            }
            assert!(Instant::now() < deadline, "slots still busy: {h}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// An HTTP/1.1 response read whole.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh connection (`Connection: close`), read to the end.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before reading a large body and close: that is not an error.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
}

fn chat(content: &str, extra: Value) -> Value {
    let mut body = json!({
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": content},
        ],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(format!(
            "{}/tests/serve/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(args)
        .output()
        .expect("python3 (with tests/serve/requirements.txt installed by scripts/test)");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_openai_python_client_chats_streams_and_lists_models() {
    let server = Server::start(&["--ctx", "1024", "-t", "2"]);
    let out = python("openai_client.py", &[&server.url(), MODEL]);
    assert!(out.contains("openai client: ok"), "{out}");
    let h = server.wait_idle();
    assert_eq!(h["status"], "ok");
}

#[test]
fn greedy_answers_equal_retort_run_at_temperature_0() {
    let server = Server::start(&["--ctx", "1024", "-t", "2"]);
    let model = support::model_path(MODEL);
    let question = "Write one sentence about the moon.";
    let run = Command::new(env!("CARGO_BIN_EXE_retort"))
        .args([
            "run", "--temp", "0", "-n", "24", "--json", "-t", "2", "--chat",
        ])
        .args(["--system", "You are a helpful assistant.", "-m"])
        .arg(&model)
        .arg(question)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    let line: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let r = server.post(
        "/v1/chat/completions",
        &chat(question, json!({"temperature": 0, "max_tokens": 24})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["choices"][0]["message"]["content"], line["text"], "{v}");
    assert_eq!(
        v["usage"]["completion_tokens"],
        line["generated_ids"].as_array().unwrap().len()
    );
    assert_eq!(
        v["usage"]["prompt_tokens"],
        line["prompt_ids"].as_array().unwrap().len()
    );

    // Plain completions against `retort run` without a template.
    let prompt = "The capital of France is";
    let run = Command::new(env!("CARGO_BIN_EXE_retort"))
        .args(["run", "--temp", "0", "-n", "12", "--json", "-t", "2", "-m"])
        .arg(&model)
        .arg(prompt)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let line: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let r = server.post(
        "/v1/completions",
        &json!({"prompt": prompt, "temperature": 0, "max_tokens": 12}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["text"], line["text"]);
    // Asked again, the prompt comes from the slot's cache and the answer is the same.
    let again = server
        .post(
            "/v1/completions",
            &json!({"prompt": prompt, "temperature": 0, "max_tokens": 12}),
        )
        .json();
    assert_eq!(again["choices"][0]["text"], line["text"]);
    assert!(
        again["usage"]["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn curl_sees_well_formed_server_sent_events() {
    let server = Server::start(&["--ctx", "1024", "-t", "2"]);
    let body = chat(
        "Count from one to five.",
        json!({"temperature": 0, "max_tokens": 16, "stream": true,
               "stream_options": {"include_usage": true}}),
    );
    let out = Command::new("curl")
        .args([
            "-sS",
            "-N",
            "-i",
            "-H",
            "Content-Type: application/json",
            "-d",
        ])
        .arg(body.to_string())
        .arg(format!("{}/v1/chat/completions", server.url()))
        .output()
        .expect("curl (installed by scripts/test)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = String::from_utf8(out.stdout).unwrap();
    let (head, events) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    // Every event is one `data: ` line followed by a blank line; the last is [DONE].
    assert!(events.ends_with("data: [DONE]\n\n"), "{events:?}");
    let frames: Vec<&str> = events.trim_end().split("\n\n").collect();
    let mut text = String::new();
    let mut finish = None;
    let mut usage = None;
    for (i, frame) in frames.iter().enumerate() {
        let data = frame
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("frame {i} is not a data line: {frame:?}"));
        assert!(!data.contains('\n'), "frame {i} spans lines: {frame:?}");
        if data == "[DONE]" {
            assert_eq!(i, frames.len() - 1);
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
        if i == 0 {
            assert_eq!(v["choices"][0]["delta"]["role"], "assistant");
        }
        if let Some(u) = v.get("usage") {
            assert_eq!(v["choices"], json!([]));
            usage = Some(u.clone());
            continue;
        }
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
        if let Some(f) = v["choices"][0]["finish_reason"].as_str() {
            finish = Some(f.to_owned());
        }
    }
    let usage = usage.expect("a usage chunk (stream_options.include_usage)");
    assert!(finish.is_some());
    // The streamed text is the non-streamed one.
    let whole = server
        .post(
            "/v1/chat/completions",
            &chat(
                "Count from one to five.",
                json!({"temperature": 0, "max_tokens": 16}),
            ),
        )
        .json();
    assert_eq!(whole["choices"][0]["message"]["content"], text.as_str());
    assert_eq!(
        whole["usage"]["completion_tokens"],
        usage["completion_tokens"]
    );
}

/// A request that must be refused: the status, the field named, a phrase of the message.
struct Bad {
    path: &'static str,
    body: Vec<u8>,
    status: u16,
    param: Option<&'static str>,
    needle: &'static str,
}

impl Bad {
    fn raw(
        path: &'static str,
        body: &[u8],
        status: u16,
        param: Option<&'static str>,
        needle: &'static str,
    ) -> Bad {
        Bad {
            path,
            body: body.to_vec(),
            status,
            param,
            needle,
        }
    }

    fn json(
        path: &'static str,
        body: Value,
        status: u16,
        param: Option<&'static str>,
        needle: &'static str,
    ) -> Bad {
        Bad::raw(path, body.to_string().as_bytes(), status, param, needle)
    }
}

#[test]
fn every_bad_input_gets_a_4xx_naming_what_was_wrong() {
    let server = Server::start(&["--ctx", "256", "-t", "2", "--max-body", "65536"]);
    let ok_messages = json!([{"role": "user", "content": "hi"}]);
    let chat_path = "/v1/chat/completions";
    let cases = [
        Bad::raw(chat_path, b"{\"messages\": [", 400, None, "not valid JSON"),
        Bad::raw(
            chat_path,
            b"{\"messages\": \"\xff\xfe\"}",
            400,
            None,
            "UTF-8",
        ),
        Bad::json(
            chat_path,
            json!({"model": "gpt-4o", "messages": ok_messages}),
            404,
            Some("model"),
            "gpt-4o",
        ),
        Bad::json(
            chat_path,
            json!({"messages": ok_messages, "max_tokens": -5}),
            400,
            Some("max_tokens"),
            "at least 1",
        ),
        Bad::json(
            chat_path,
            json!({"messages": ok_messages, "max_tokens": 1_000_000_000}),
            400,
            Some("max_tokens"),
            "context",
        ),
        Bad::json(
            chat_path,
            json!({"messages": ok_messages, "temperature": 7.5}),
            400,
            Some("temperature"),
            "between 0 and 2",
        ),
        Bad::json(
            chat_path,
            json!({"messages": [{"role": "user", "content": "hi"},
                                {"role": "wizard", "content": "x"}]}),
            400,
            Some("messages[1].role"),
            "wizard",
        ),
        Bad::json(
            chat_path,
            json!({"messages": [{"role": "user", "content": "word ".repeat(400)}]}),
            400,
            Some("messages"),
            "context holds 256",
        ),
        Bad::json(
            "/v1/completions",
            json!({"prompt": 42}),
            400,
            Some("prompt"),
            "prompt must be",
        ),
        Bad::json(
            "/v1/completions",
            json!({"prompt": "hi", "top_p": 1.5}),
            400,
            Some("top_p"),
            "top_p",
        ),
    ];
    for case in cases {
        let r = server.request("POST", case.path, &[], &case.body);
        let shown = String::from_utf8_lossy(&case.body[..case.body.len().min(80)]).into_owned();
        assert_eq!(r.status, case.status, "{shown}: {}", r.text());
        let v = r.json();
        let e = &v["error"];
        assert_eq!(e["param"].as_str(), case.param, "{shown}: {v}");
        assert!(
            e["message"].as_str().unwrap().contains(case.needle),
            "{shown}: {v} should mention {:?}",
            case.needle
        );
        assert_eq!(e["type"], "invalid_request_error");
    }
    // Too large a body: 413, also as JSON.
    let big = vec![b' '; 10 << 20];
    let r = server.request("POST", "/v1/chat/completions", &[], &big);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("larger"));
    // Unknown paths and methods.
    assert_eq!(server.request("GET", "/v1/nothing", &[], b"").status, 404);
    let r = server.request("GET", "/v1/chat/completions", &[], b"");
    assert_eq!(r.status, 405);
    assert!(r.json()["error"]["message"].is_string());
    // Nothing leaked: every slot is free and a good request still works.
    let h = server.wait_idle();
    assert_eq!(h["slots"]["idle"], 1, "{h}");
    let r = server.post(
        "/v1/chat/completions",
        &json!({"messages": ok_messages, "max_tokens": 4, "temperature": 0}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn an_api_key_is_required_when_set_and_health_stays_open() {
    let server = Server::start(&["--ctx", "256", "-t", "2", "--api-key", "s3cret"]);
    let body = json!({"prompt": "Hello", "max_tokens": 2}).to_string();
    for headers in [
        &[][..],
        &["Authorization: Bearer wrong"][..],
        &["Authorization: s3cret"][..],
    ] {
        let r = server.request("POST", "/v1/completions", headers, body.as_bytes());
        assert_eq!(r.status, 401, "{headers:?}");
        assert_eq!(r.json()["error"]["code"], "invalid_api_key");
    }
    assert_eq!(server.request("GET", "/v1/models", &[], b"").status, 401);
    let r = server.request(
        "POST",
        "/v1/completions",
        &["Authorization: Bearer s3cret"],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.request("GET", "/health", &[], b"").status, 200);
}

#[test]
fn binding_beyond_loopback_without_a_key_warns() {
    let server = Server::start(&["--ctx", "128", "-t", "1", "--host", "0.0.0.0"]);
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("warning") && log.contains("--api-key"),
        "{log}"
    );
    assert!(log.contains("MiB of KV cache"), "{log}");
}

#[test]
fn a_request_past_its_timeout_gets_504_and_frees_its_slot() {
    let server = Server::start(&["--ctx", "1024", "-t", "2", "--timeout", "2"]);
    // Counting goes on far longer than 2 s, however fast the machine.
    let r = server.post(
        "/v1/completions",
        &json!({"prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", "max_tokens": 1000, "temperature": 0}),
    );
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--timeout"));
    server.wait_idle();
    let slots = server.request("GET", "/slots", &[], b"").json();
    assert_eq!(slots[0]["last"]["finish"], "timed_out", "{slots}");
}

/// Opens a streaming request and returns the socket once the first content chunk arrived.
fn start_stream(server: &Server, max_tokens: usize) -> TcpStream {
    let body = chat(
        "Tell me a very long story about a dragon.",
        json!({"max_tokens": max_tokens, "stream": true, "temperature": 0.8, "seed": 3}),
    )
    .to_string();
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"content\":\"")
        || String::from_utf8_lossy(&seen).matches("data: ").count() < 3
    {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "the stream ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
        assert!(
            !seen.starts_with(b"HTTP/1.1 ") || seen.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&seen)
        );
    }
    s
}

#[test]
fn a_client_killed_mid_stream_frees_its_slot_and_a_full_queue_gets_503() {
    let server = Server::start(&["--ctx", "1024", "-t", "2", "--slots", "1", "--queue", "0"]);
    let stream = start_stream(&server, 900);
    // The only slot is busy and nobody may wait: 503 with Retry-After.
    let r = server.post("/v1/completions", &json!({"prompt": "Hi", "max_tokens": 2}));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["code"], "server_busy");
    // /health answers while the slot generates.
    let h = server.health();
    assert_eq!(h["slots"]["busy"], 1, "{h}");
    assert_eq!(h["requests"]["rejected_busy"], 1, "{h}");
    // Kill the client: the generation stops long before its 900 tokens and the slot is free.
    drop(stream);
    server.wait_idle();
    let slots = server.request("GET", "/slots", &[], b"").json();
    let last = &slots[0]["last"];
    assert_eq!(last["finish"], "client_gone", "{slots}");
    assert!(last["completion_tokens"].as_u64().unwrap() < 900, "{slots}");
    let r = server.post("/v1/completions", &json!({"prompt": "Hi", "max_tokens": 2}));
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn sigterm_ends_running_streams_cleanly_and_exits_0() {
    let server = Server::start(&["--ctx", "1024", "-t", "2", "--shutdown-grace", "1"]);
    let mut stream = start_stream(&server, 900);
    let pid = server.pid();
    signal(pid, "TERM");
    // The stream ends, with an error event saying why, then [DONE].
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.contains("shut down") && rest.contains("data: [DONE]"),
        "{rest}"
    );
    let status = server.stop();
    assert!(status.success(), "{status}");
}

#[test]
fn load_200_requests_from_8_clients_none_lost_no_slot_leaked_rss_stable() {
    let server = Server::start(&["--ctx", "512", "-t", "2", "--slots", "2", "--queue", "4"]);
    let out = python(
        "load.py",
        &[&server.url(), MODEL, &server.pid().to_string(), "200", "8"],
    );
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    eprintln!("load: {report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["wrong"], 0, "{report}");
    assert_eq!(
        report["ok"].as_u64().unwrap() + report["busy_503"].as_u64().unwrap(),
        200,
        "{report}"
    );
    // Clients back off for Retry-After on a 503; a good share must still be served.
    assert!(report["ok"].as_u64().unwrap() >= 50, "{report}");
    let h = server.wait_idle();
    assert_eq!(h["slots"]["idle"], 2, "{h}");
    assert_eq!(h["queue"]["waiting"], 0, "{h}");
    assert!(h["prompt_cache"]["hits"].as_u64().unwrap() > 0, "{h}");
    // Allocator noise is a few MiB; a per-request leak of even 50 KiB would show over 150.
    let grew =
        report["rss_kib_at_last"].as_i64().unwrap() - report["rss_kib_at_50"].as_i64().unwrap();
    assert!(
        grew < 6 * 1024,
        "RSS grew {grew} KiB from request 50 to 200: {report}"
    );
}
