//! `retort chat` driven through a pipe (stdin) and once through a pseudo-terminal: replies,
//! the cache across turns, /reset, /quit, end of input, Ctrl-C, and a full context.
#![cfg(feature = "chat")]

mod support;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const MODEL: &str = "smollm2-135m-instruct-q4_1";
const SYSTEM: &str = "Answer in one short sentence.";

fn chat(args: &[&str], input: &str) -> Output {
    let model = support::model_path(MODEL);
    let mut child = Command::new(env!("CARGO_BIN_EXE_retort"))
        .args([
            "chat", "--temp", "0", "-t", "2", "--stats", "--system", SYSTEM, "-m",
        ])
        .arg(&model)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "retort chat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// (prompt tokens, from the cache, run) of every `--stats` line.
fn turns(stderr: &str) -> Vec<(usize, usize, usize)> {
    stderr
        .lines()
        .filter(|l| l.starts_with("[turn "))
        .map(|l| {
            let num = |after: &str| -> usize {
                let rest = &l[l.find(after).unwrap() + after.len()..];
                rest.split_whitespace().next().unwrap().parse().unwrap()
            };
            (num("prompt "), num("tokens, "), num("from the cache, "))
        })
        .collect()
}

#[test]
fn a_piped_conversation_reuses_the_cache_and_matches_run_and_no_cache() {
    let input = "What is the capital of France?\nAnd of Italy?\nAnd of Spain?\n";
    let cached = chat(&["-n", "16", "--ctx", "1024"], input);
    let stderr = String::from_utf8_lossy(&cached.stderr);
    let t = turns(&stderr);
    assert_eq!(t.len(), 3, "{stderr}");
    assert_eq!(t[0].1, 0, "{stderr}");
    for &(prompt, from_cache, run) in &t[1..] {
        assert_eq!(from_cache + run, prompt, "{stderr}");
        // The earlier turns come from the cache; only the end-of-turn marker and the new
        // message are run.
        assert!(from_cache > run && run < 24, "{stderr}");
    }
    // Without the cache, every turn is run whole, and the replies are the same.
    let fresh = chat(&["-n", "16", "--ctx", "1024", "--no-cache"], input);
    let fresh_turns = turns(&String::from_utf8_lossy(&fresh.stderr));
    assert!(fresh_turns.iter().all(|&(p, c, r)| c == 0 && r == p));
    assert_eq!(
        String::from_utf8_lossy(&cached.stdout),
        String::from_utf8_lossy(&fresh.stdout)
    );
    // The first reply is `retort run --chat`'s with the same system message.
    let run = Command::new(env!("CARGO_BIN_EXE_retort"))
        .args([
            "run", "--temp", "0", "-n", "16", "-t", "2", "--chat", "--system", SYSTEM,
        ])
        .arg("-m")
        .arg(support::model_path(MODEL))
        .arg("What is the capital of France?")
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&run.stdout);
    assert!(
        String::from_utf8_lossy(&cached.stdout).starts_with(first.as_ref()),
        "chat: {:?}\nrun: {first:?}",
        String::from_utf8_lossy(&cached.stdout)
    );
}

#[test]
fn reset_quit_unknown_commands_and_end_of_input() {
    let out = chat(
        &["-n", "8", "--ctx", "512"],
        "Hello there.\n/reset\nHello there.\n/nonsense\n/quit\nNever answered.\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[conversation reset]"), "{stderr}");
    assert!(stderr.contains("unknown command /nonsense"), "{stderr}");
    let t = turns(&stderr);
    assert_eq!(t.len(), 2, "/quit ends the conversation: {stderr}");
    assert_eq!(
        t[1].1, 0,
        "after /reset nothing comes from the cache: {stderr}"
    );
    // The same first turn twice gives the same reply.
    let replies: Vec<&str> = stdout.split_terminator('\n').collect();
    assert_eq!(replies.len() % 2, 0, "{stdout:?}");
    let half = replies.len() / 2;
    assert_eq!(replies[..half], replies[half..], "{stdout:?}");
    // End of input (Ctrl-D) ends it too, with status 0 (checked by `chat`).
    let out = chat(&["-n", "4", "--ctx", "512"], "Hi.\n");
    assert_eq!(turns(&String::from_utf8_lossy(&out.stderr)).len(), 1);
}

#[test]
fn a_full_context_drops_the_oldest_exchanges_and_refuses_a_message_too_long() {
    let long = "Tell me about rivers, mountains, forests and the sea in great detail. ".repeat(2);
    let mut input = String::new();
    for _ in 0..6 {
        input.push_str(&long);
        input.push('\n');
    }
    input.push_str(&"word ".repeat(400));
    input.push('\n');
    input.push_str("Still there?\n");
    let out = chat(&["-n", "24", "--ctx", "192"], &input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[context full: dropped the oldest"),
        "{stderr}"
    );
    assert!(stderr.contains("[message too long"), "{stderr}");
    let t = turns(&stderr);
    assert_eq!(
        t.len(),
        7,
        "every message but the too-long one is answered: {stderr}"
    );
    // Every prompt left room for a reply: -n 24 (less than a quarter of the context).
    assert!(t.iter().all(|&(p, _, _)| p + 24 <= 192), "{stderr}");
}

#[test]
fn ctrl_c_stops_the_reply_not_the_program() {
    let model = support::model_path(MODEL);
    let mut child = Command::new(env!("CARGO_BIN_EXE_retort"))
        .args([
            "chat", "--temp", "0", "-t", "2", "-n", "400", "--ctx", "1024", "--stats",
        ])
        .arg("-m")
        .arg(&model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin
        .write_all(b"Tell me a long story about a dragon and a knight.\n")
        .unwrap();
    // Let a few pieces arrive, then interrupt.
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.split(|b| *b == b' ').count() < 6 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0 && Instant::now() < deadline, "no reply");
        seen.extend_from_slice(&buf[..n]);
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The program is still there: it answers the next message, then leaves on /quit.
    stdin.write_all(b"Hi.\n/quit\n").unwrap();
    drop(stdin);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[stopped]"), "{stderr}");
    let t = turns(&stderr);
    assert_eq!(t.len(), 2, "{stderr}");
    // The story was cut well before its 400 tokens.
    let first_reply_tokens: usize = stderr
        .lines()
        .find(|l| l.starts_with("[turn 1:"))
        .and_then(|l| l.split("reply ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(first_reply_tokens < 400, "{stderr}");
}

#[test]
fn a_terminal_session_with_ctrl_c_reset_and_ctrl_d() {
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/chat/pty_session.py"
        ))
        .arg(env!("CARGO_BIN_EXE_retort"))
        .arg(support::model_path(MODEL))
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("pty session: ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
