//! Takes the README's screenshots: this project's broker in this process serving the release
//! dashboard (dist/), a catalog made by the demo generator, then five real Chromium pages (a desk
//! at 1440×900 and a wall screen at 1920×1080, in Spanish and in English, and a small wall standing,
//! 800×1280) that receive a few live changes, each captured once its toasts are up and its round
//! trip measured.
//!
//!   scripts/screenshots        (builds what it needs, writes docs/screenshots/*.png)

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    use std::time::Duration;

    use furniture_notify::demo::DemoGenerator;
    use furniture_notify::Notifier;
    use support::{Browser, Dashboard, TestBroker};

    let Some(browser) = Browser::start().await else { return std::process::ExitCode::FAILURE };
    let broker = TestBroker::start_with(None, |c| c.max_messages_per_sec = 0).await;
    let mut publisher = match Notifier::new(broker.ws_url()).connect().await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("screenshots: cannot publish to the broker: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut demo = DemoGenerator::new(2026, 24);
    for _ in 0..120 {
        if let Err(e) = publisher.send(&demo.next_message()).await {
            eprintln!("screenshots: a demo change was refused: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }

    // (file name, query, viewport)
    // Pings every second (`ping_after`), so that the round trip shown is one measured after the
    // five pages have started, not during.
    let shots = [
        ("desk", "?ping_after=1000", (1440, 900)),
        ("wall", "?kiosk&ping_after=1000", (1920, 1080)),
        ("desk-en", "?lang=en&ping_after=1000", (1440, 900)),
        ("wall-en", "?kiosk&lang=en&ping_after=1000", (1920, 1080)),
        ("wall-small", "?kiosk&ping_after=1000", (800, 1280)),
    ];
    let mut pages = Vec::new();
    for (name, query, (width, height)) in shots {
        let page = Dashboard::open(&browser, &format!("{}{query}", broker.page_url())).await;
        page.resize(width, height, false).await;
        page.wait_state("live").await;
        pages.push((name, page));
    }
    // A round trip measured on every page ("latencia 12 ms" in the health strip).
    for (_, page) in &pages {
        page.wait_until("a measured round trip", "return /(latencia|round trip) \\d+\\sms/.test(document.querySelector('[data-testid=health]')?.textContent ?? '')").await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // A few live changes, so that toasts and fresh feed rows show.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if let Err(e) = publisher.send(&demo.next_message()).await {
            eprintln!("screenshots: a live change was refused: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    // Past the toasts' and cards' entrance animations.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let dir = std::path::Path::new("docs/screenshots");
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("screenshots: cannot create {}: {e}", dir.display());
        return std::process::ExitCode::FAILURE;
    }
    for (name, page) in pages {
        page.wait_until("three toasts", "return document.querySelectorAll('[data-testid=toast]').length >= 3").await;
        let path = dir.join(format!("{name}.png"));
        match page.png().await.and_then(|png| std::fs::write(&path, png).map_err(|e| e.to_string())) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("screenshots: {}: {e}", path.display());
                return std::process::ExitCode::FAILURE;
            }
        }
        page.close().await;
    }
    std::process::ExitCode::SUCCESS
}
