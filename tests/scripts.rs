//! The helpers of `scripts/env.sh` that `scripts/up` and `scripts/bench` use to tell whether a
//! port is taken and when a broker they started listens: on the address it was told to listen
//! on, not only on 127.0.0.1.

// `drop(listener)` closes the socket (its file descriptor's own drop), which clippy does not see.
#![allow(clippy::drop_non_drop)]

use std::net::TcpListener;
use std::process::{Command, Output};

/// Runs `script` in bash with `scripts/env.sh` sourced.
fn with_env(script: &str) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!("source scripts/env.sh\n{script}"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("bash runs")
}

fn stdout(script: &str) -> String {
    let out = with_env(script);
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_host_to_reach_a_listen_address_by() {
    for (listen, host) in [
        ("0.0.0.0:8765", "127.0.0.1"),
        (":8765", "127.0.0.1"),
        ("[::]:8765", "::1"),
        ("127.0.0.2:8765", "127.0.0.2"),
        ("10.0.0.5:80", "10.0.0.5"),
        ("[fe80::1]:8765", "fe80::1"),
        ("[::1]:8765", "::1"),
    ] {
        assert_eq!(stdout(&format!("connect_host '{listen}'")), host, "{listen}");
    }
    assert_eq!(stdout("url_host ::1"), "[::1]");
    assert_eq!(stdout("url_host 127.0.0.2"), "127.0.0.2");
}

/// A broker told to listen on 127.0.0.2 is found there, and its port counts as taken there;
/// on 127.0.0.1 the same port is free.
#[test]
fn a_port_is_checked_on_the_given_host() {
    // A port of 127.0.0.2 that nothing uses on 127.0.0.1 either (other tests listen there).
    let (listener, port) = loop {
        let listener = TcpListener::bind("127.0.0.2:0").expect("127.0.0.2 is loopback on Linux");
        let port = listener.local_addr().unwrap().port();
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            break (listener, port);
        }
    };
    assert_eq!(stdout(&format!("listening {port} 127.0.0.2 && echo yes || echo no")), "yes");
    assert_eq!(stdout(&format!("listening {port} && echo yes || echo no")), "no", "not on 127.0.0.1");

    let taken = with_env(&format!("need_free_port {port} 'use another' 127.0.0.2; echo free"));
    assert_eq!(taken.status.code(), Some(1));
    let message = String::from_utf8_lossy(&taken.stderr);
    assert!(message.contains(&format!("port {port} is already in use")) && message.contains("use another"), "{message}");
    assert_eq!(stdout(&format!("need_free_port {port} 'use another'; echo free")), "free");

    // await_listening returns at once for a listener on the given host, and gives up with the
    // log when the process it waits for has exited without listening.
    assert_eq!(stdout(&format!("sleep 5 & await_listening $! {port} /dev/null 127.0.0.2; echo up; kill $!")), "up");
    drop(listener);
    let log = std::env::temp_dir().join(format!("furniture-scripts-test-{}.log", std::process::id()));
    std::fs::write(&log, "bind failed: address in use\n").unwrap();
    let gone = with_env(&format!("true & await_listening $! {port} '{}' 127.0.0.2; echo up", log.display()));
    std::fs::remove_file(&log).ok();
    assert_eq!(gone.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&gone.stdout).contains("up"));
    let message = String::from_utf8_lossy(&gone.stderr);
    assert!(message.contains("it did not start") && message.contains("bind failed: address in use"), "{message}");
}

/// `scripts/up` says at once, before any install or build, that its port is taken; it explains
/// itself with `--help` and refuses arguments it does not take (it would otherwise run all).
#[test]
fn up_checks_its_port_before_building_and_explains_itself() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let root = env!("CARGO_MANIFEST_DIR");
    let up = |args: &[&str], listen: &str| Command::new("scripts/up").args(args).env("BROKER_LISTEN", listen).current_dir(root).output().expect("scripts/up runs");
    let taken = up(&[], &format!("127.0.0.1:{port}"));
    let said = format!("{}{}", String::from_utf8_lossy(&taken.stdout), String::from_utf8_lossy(&taken.stderr));
    assert_eq!(taken.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("port {port} is already in use")), "{said}");
    assert!(!said.contains("==>"), "nothing installed or built first: {said}");
    drop(listener);
    let help = up(&["--help"], "127.0.0.1:1");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("DEMO_RATE"));
    assert_eq!(up(&["--demo"], "127.0.0.1:1").status.code(), Some(2));
}

/// A token goes into the demo's URL percent-encoded byte by byte, so that any token the broker
/// takes (spaces, `&`, `+`, `%`, `#`, letters beyond ASCII) reaches it unchanged.
#[test]
fn url_encode_escapes_all_but_the_unreserved_bytes() {
    assert_eq!(stdout("url_encode 'pa ss/wörd&+%#~._-Az9'"), "pa%20ss%2Fw%C3%B6rd%26%2B%25%23~._-Az9");
    assert_eq!(stdout("url_encode ''; echo -n"), "");
}
