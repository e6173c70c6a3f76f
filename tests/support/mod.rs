//! The end-to-end harness: ChromeDriver, a broker serving the release dashboard, and a page
//! object that reads the dashboard through its `data-testid` marks.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use furniture_broker::{run, Config};
use furniture_notify::{Action, Furniture, Notifier, ProducerMessage};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long any one expectation may take to come true.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn skip(why: &str) {
    if std::env::var("FURNITURE_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// A ChromeDriver process for one test.
pub struct Browser {
    driver: Child,
    pub url: String,
}

impl Browser {
    /// Starts ChromeDriver, or says why it cannot (returning `None`).
    pub async fn start() -> Option<Browser> {
        if !root().join("dist/index.html").exists() {
            skip("dist/index.html is missing: build the dashboard with `scripts/build-dashboard` first");
            return None;
        }
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let port = free_port();
        let driver = match Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                skip(&format!("cannot start {driver_path}: {e} (install chromium and chromium-driver)"));
                return None;
            }
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Browser { driver, url })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Our broker, in process, serving `dist/`, restartable on the same port.
pub struct TestBroker {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestBroker {
    pub async fn start(addr: Option<SocketAddr>) -> TestBroker {
        TestBroker::start_with(addr, |_| {}).await
    }

    /// Starts a broker with settings changed by `tweak`.
    pub async fn start_with(addr: Option<SocketAddr>, tweak: impl FnOnce(&mut Config)) -> TestBroker {
        let listener = tokio::net::TcpListener::bind(addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap())).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config::on(addr);
        config.dashboard_dir = root().join("dist");
        tweak(&mut config);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(listener, config, shutdown.clone()));
        TestBroker { addr, shutdown, task: Some(task) }
    }

    pub fn page_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Sends one change with the real notifier, as the catalog's back end does.
    pub async fn send(&self, action: Action, furniture: Furniture) {
        Notifier::new(self.ws_url()).send(&ProducerMessage { action, furniture }).await.expect("the broker takes the change");
    }

    /// Stops the broker (clients get 1001) and starts a fresh one on the same port.
    pub async fn restart(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(PATIENCE, task).await.expect("broker stops").unwrap().unwrap();
        }
        *self = TestBroker::start(Some(self.addr)).await;
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A broker written with Python's `websockets` (tests/interop/peers.py).
pub struct PythonBroker {
    child: Child,
    pub url: String,
}

impl PythonBroker {
    pub fn start() -> Option<PythonBroker> {
        use std::io::{BufRead, BufReader};
        let mut child = match Command::new("python3")
            .arg(root().join("tests/interop/peers.py"))
            .arg("broker")
            .stdout(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                skip(&format!("python3 cannot run: {e}"));
                return None;
            }
        };
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).ok();
        match line.trim().strip_prefix("listening ") {
            Some(port) => Some(PythonBroker { url: format!("ws://127.0.0.1:{port}/"), child }),
            None => {
                let _ = child.kill();
                skip("the Python broker did not start (pip install websockets)");
                None
            }
        }
    }
}

impl Drop for PythonBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a catalog card shows.
#[derive(Debug, Clone)]
pub struct CardView {
    pub name: String,
    pub material: String,
    pub size: String,
    pub deleted: bool,
}

/// Waits until the machine's processors have been idle (under a tenth busy, from `/proc/stat`)
/// for three readings 100 ms apart, or `limit` has passed; where there is no `/proc/stat`,
/// waits 2 s.
pub async fn processors_idle(limit: Duration) {
    fn busy_and_total() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        let total: u64 = cpu.iter().take(8).sum();
        // idle and iowait
        let idle = cpu.get(3)? + cpu.get(4).copied().unwrap_or(0);
        Some((total - idle, total))
    }
    let Some(mut last) = busy_and_total() else {
        tokio::time::sleep(Duration::from_secs(2)).await;
        return;
    };
    let deadline = tokio::time::Instant::now() + limit;
    let mut quiet = 0;
    while quiet < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Some(now) = busy_and_total() else { return };
        let (busy, total) = (now.0 - last.0, now.1 - last.1);
        quiet = if total > 0 && busy * 10 < total { quiet + 1 } else { 0 };
        last = now;
    }
}

/// The dashboard page, read through its `data-testid` marks.
pub struct Dashboard {
    client: Client,
    /// Chromium's profile folder, unique to this page: it also names the browser's processes,
    /// so a failed test can still end them.
    profile: PathBuf,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = Command::new("pkill").arg("-f").arg(&self.profile).status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Dashboard {
    pub async fn open(browser: &Browser, url: &str) -> Dashboard {
        Dashboard::open_with(browser, url, None).await
    }

    /// Opens `url` after installing `preload`, a script that runs in every new document before the
    /// page's own scripts (for instruments).
    pub async fn open_with(browser: &Browser, url: &str, preload: Option<&str>) -> Dashboard {
        let page = Dashboard::launch(browser, preload).await;
        page.client.goto(url).await.expect("the page loads");
        page
    }

    /// Like `open_with`, in a browser already running: Chromium is started on its blank page and
    /// left until the machine's processors are idle (for at most 10 s) before `url` is opened.
    /// New headless Chromium loads its own interface at start-up (an omnibox pop-up of some 200
    /// scripts, about a second of one core on this project's machines), which a page opened in a
    /// running browser does not compete with; benchmarks of the page measure it this way.
    pub async fn open_settled(browser: &Browser, url: &str, preload: Option<&str>) -> Dashboard {
        let page = Dashboard::launch(browser, preload).await;
        processors_idle(Duration::from_secs(10)).await;
        page.client.goto(url).await.expect("the page loads");
        page
    }

    /// A new browser with a profile of its own, on its blank page, with `preload` installed.
    async fn launch(browser: &Browser, preload: Option<&str>) -> Dashboard {
        static PAGES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = PAGES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Ends in a word of its own, so that ending page 1's processes leaves page 10's alone.
        let profile = std::env::temp_dir().join(format!("furniture-e2e-{}-{n}-profile", std::process::id()));
        let mut args: Vec<String> = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--window-size=1440,900", "--hide-scrollbars",
        ]
        .map(String::from)
        .into();
        args.push(format!("--user-data-dir={}", profile.display()));
        // Extra switches for diagnosis, such as `--trace-startup=…` (BENCHMARKS.md).
        if let Ok(extra) = std::env::var("FURNITURE_CHROMIUM_ARGS") {
            args.extend(extra.split_whitespace().map(String::from));
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({ "args": args }));
        let client = ClientBuilder::rustls()
            .expect("TLS roots")
            .capabilities(caps)
            .connect(&browser.url)
            .await
            .expect("a ChromeDriver session");
        let page = Dashboard { client, profile };
        if let Some(source) = preload {
            page.cdp("Page.addScriptToEvaluateOnNewDocument", json!({ "source": source })).await;
        }
        page
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or(Value::Null)
    }

    pub async fn eval_bool(&self, script: &str) -> bool {
        self.eval(script).await.as_bool().unwrap_or(false)
    }

    /// Waits until `script` returns true; fails naming `what`.
    pub async fn wait_until(&self, what: &str, script: &str) {
        self.wait_for(what, script, PATIENCE).await;
    }

    /// [`Dashboard::wait_until`] for what takes longer than [`PATIENCE`], such as a wall paging
    /// through a hundred cards.
    pub async fn wait_for(&self, what: &str, script: &str, patience: Duration) {
        let started = Instant::now();
        while !self.eval_bool(script).await {
            if started.elapsed() > patience {
                let state = self.eval("return document.body.innerText.slice(0, 2000)").await;
                panic!("waited {patience:?} for {what}; the page shows:\n{}", state.as_str().unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_state(&self, state: &str) {
        self.wait_until(
            &format!("connection state {state}"),
            &format!("return document.querySelector('[data-testid=connection-status]')?.dataset.state === '{state}'"),
        )
        .await;
    }

    /// Until the page no longer says it is live (a dead link noticed).
    pub async fn wait_not_live(&self) {
        self.wait_until("the dead socket noticed", "return document.querySelector('[data-testid=connection-status]').dataset.state !== 'live'").await;
    }

    pub async fn wait_feed(&self, action: &str, id: &str) {
        self.wait_until(
            &format!("a {action} feed item for {id}"),
            &format!("return !!document.querySelector('[data-testid=feed] [data-testid=feed-item][data-action=\"{action}\"][data-furniture-id=\"{id}\"]')"),
        )
        .await;
    }

    pub async fn wait_toast(&self, action: &str) {
        self.wait_until(
            &format!("a {action} toast"),
            &format!("return !!document.querySelector('[data-testid=toast][data-action=\"{action}\"]')"),
        )
        .await;
    }

    pub async fn card(&self, id: &str) -> Option<CardView> {
        let v = self
            .eval(&format!(
                "const c = document.querySelector('[data-testid=catalog] [data-testid=catalog-item][data-furniture-id=\"{id}\"]');
                 if (!c) return null;
                 return {{name: c.querySelector('.card-name').textContent, material: c.querySelector('.material').textContent,
                          size: c.querySelector('.size').textContent, deleted: c.dataset.deleted === 'true'}};"
            ))
            .await;
        if v.is_null() {
            return None;
        }
        Some(CardView {
            name: v["name"].as_str().unwrap_or_default().to_owned(),
            material: v["material"].as_str().unwrap_or_default().to_owned(),
            size: v["size"].as_str().unwrap_or_default().to_owned(),
            deleted: v["deleted"].as_bool().unwrap_or(false),
        })
    }

    /// Waits until the card exists and `ok` holds for it.
    pub async fn wait_card(&self, id: &str, ok: impl Fn(&CardView) -> bool) -> CardView {
        let started = Instant::now();
        loop {
            if let Some(card) = self.card(id).await.filter(|c| ok(c)) {
                return card;
            }
            if started.elapsed() > PATIENCE {
                panic!("waited {PATIENCE:?} for card {id}; it is {:?}", self.card(id).await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn count(&self, selector: &str) -> u64 {
        self.eval(&format!("return document.querySelectorAll('{selector}').length")).await.as_u64().unwrap_or(0)
    }

    pub async fn text(&self, selector: &str) -> String {
        self.eval(&format!("return document.querySelector('{selector}')?.textContent ?? ''")).await.as_str().unwrap_or_default().to_owned()
    }

    /// Saves a screenshot under target/e2e-screenshots/.
    pub async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.png().await {
            let dir = root().join("target/e2e-screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
    }

    /// The page's viewport as a PNG.
    pub async fn png(&self) -> Result<Vec<u8>, String> {
        self.client.screenshot().await.map_err(|e| e.to_string())
    }

    /// The page's window made `width` × `height` CSS pixels (as a phone's when `mobile`), waited
    /// for until the page sees that size.
    pub async fn resize(&self, width: u32, height: u32, mobile: bool) {
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
        self.wait_until(&format!("a {width} × {height} window"), &format!("return innerWidth === {width} && innerHeight === {height}")).await;
    }

    /// Runs a Chrome DevTools Protocol command on the page (ChromeDriver's `goog/cdp/execute`).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        #[derive(Debug)]
        struct Cdp(String, Value);
        impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
            fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
                base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
            }
            fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
                (http::Method::POST, Some(json!({"cmd": self.0, "params": self.1}).to_string()))
            }
        }
        self.client.issue_cmd(Cdp(cmd.to_owned(), params)).await.unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// The `furniture-broker` binary as a child process, for real signals. `cargo test --workspace`
/// builds it before running any test.
pub struct BrokerProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl BrokerProcess {
    /// The binary cargo built for the tests, or the one `FURNITURE_BROKER_BIN` names (the soak
    /// runs the release build).
    pub fn binary() -> Option<PathBuf> {
        if let Some(bin) = std::env::var_os("FURNITURE_BROKER_BIN") {
            return Some(PathBuf::from(bin));
        }
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
        let bin = target.join("debug/furniture-broker");
        if bin.exists() {
            Some(bin)
        } else {
            skip(&format!("{} is missing: run `cargo build -p furniture-broker` (cargo test --workspace builds it)", bin.display()));
            None
        }
    }

    /// Starts the broker on `addr` serving `dist/` with its state in `data_dir`, and waits until
    /// it accepts connections.
    pub async fn start(bin: &std::path::Path, addr: SocketAddr, data_dir: &std::path::Path) -> BrokerProcess {
        BrokerProcess::start_with(bin, addr, data_dir, &[], None).await
    }

    /// As [`BrokerProcess::start`], with `extra` flags and the log appended to `log` (else
    /// dropped).
    pub async fn start_with(
        bin: &std::path::Path,
        addr: SocketAddr,
        data_dir: &std::path::Path,
        extra: &[String],
        log: Option<&std::path::Path>,
    ) -> BrokerProcess {
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new().create(true).append(true).open(path).expect("the broker's log file opens"),
            ),
            None => Stdio::null(),
        };
        let child = Command::new(bin)
            .args(["--listen", &addr.to_string(), "--dashboard-dir"])
            .arg(root().join("dist"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .stderr(stderr)
            .spawn()
            .expect("the broker binary starts");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(started.elapsed() < PATIENCE, "the broker did not start listening");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        BrokerProcess { child, addr }
    }

    /// SIGKILL: no close frames, no goodbye.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits (at most `PATIENCE`) for the exit; returns its status, `None` if the
    /// broker had to be killed.
    pub async fn terminate(mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let started = Instant::now();
        while started.elapsed() < PATIENCE {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
