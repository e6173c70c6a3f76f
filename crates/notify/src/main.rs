use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use furniture_notify::demo::DemoGenerator;
use furniture_notify::{Action, Furniture, Notifier, NotifyError, ProducerMessage, Publisher, DEFAULT_URL};
use serde_json::Value;

/// `eprintln!`, but a line that cannot be written (standard error closed: `2>&1 | head`) is lost
/// instead of panicking: the exit status stays the one the run earned.
macro_rules! say {
    ($($line:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($line)*);
    }};
}

/// Sends furniture catalog changes to the notification broker, like the catalog's back end does.
#[derive(Parser)]
#[command(name = "furniture-notify", version, after_help = "Exit status: 0 when sent, 1 when the change could not be delivered to the broker, 2 for usage errors.")]
struct Cli {
    /// Broker address (ws://); path and query (a publish token, say) are passed through
    /// untouched. A token in it is never printed.
    #[arg(long, env = "WEBSOCKET_URL", default_value = DEFAULT_URL, global = true, hide_env_values = true, help_heading = "Broker")]
    url: String,

    /// Seconds to wait for the broker to accept the connection.
    #[arg(long, default_value_t = 5.0, global = true, help_heading = "Broker")]
    timeout: f64,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Announce a new item (`furniture_created`).
    #[command(after_help = "Example: furniture-notify created --nombre 'Mesa de roble' --altura 75 --ancho 120 --material roble --autor ana")]
    Created(Record),
    /// Announce a changed item (`furniture_updated`), with its record as it is now.
    #[command(after_help = "Example: furniture-notify updated --id 6740001a716837c88b2d7da5 --nombre 'Mesa de roble' --altura 75 --ancho 140")]
    Updated(Record),
    /// Announce a deleted item (`furniture_deleted`), with its last record.
    #[command(after_help = "Example: furniture-notify deleted --id 6740001a716837c88b2d7da5 --nombre 'Mesa de roble'")]
    Deleted(Record),
    /// Send a plausible, varied stream of changes until stopped (Ctrl-C), so screens come alive.
    Demo(Demo),
}

/// The record's fields; an omitted flag leaves the key out of the record.
#[derive(Args)]
struct Record {
    /// `furniture_id`: the catalog id; needed by `updated` and `deleted` (`created` makes up a
    /// new 24-hex-digit id when omitted).
    #[arg(long)]
    id: Option<String>,
    /// `nombre`: the name.
    #[arg(long)]
    nombre: Option<String>,
    /// `descripcion`: the description.
    #[arg(long)]
    descripcion: Option<String>,
    /// `altura`: height in whole centimetres.
    #[arg(long, value_name = "CM", value_parser = centimetres, allow_negative_numbers = true)]
    altura: Option<i64>,
    /// `ancho`: width in whole centimetres.
    #[arg(long, value_name = "CM", value_parser = centimetres, allow_negative_numbers = true)]
    ancho: Option<i64>,
    /// `material`: the material.
    #[arg(long)]
    material: Option<String>,
    /// `autor_username`: who created the item.
    #[arg(long)]
    autor: Option<String>,
}

#[derive(Args)]
struct Demo {
    /// Changes per second.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Stop after this many changes, at least 1 (default: never).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Stop after this many seconds, more than 0 and at most a day (default: never).
    #[arg(long)]
    duration: Option<f64>,
    /// Most items alive at once, at least 1.
    #[arg(long, default_value_t = 24, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_items: usize,
    /// Seed of the random stream (default: from the clock); the same seed repeats the stream.
    #[arg(long)]
    seed: Option<u64>,
    /// Print nothing per change.
    #[arg(long, short)]
    quiet: bool,
}

/// A size as the catalog keeps it: whole centimetres, not negative.
fn centimetres(s: &str) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(format!("a size is whole centimetres from 0 to {} (75, not 75.5 or -3)", i64::MAX)),
    }
}

impl Record {
    /// The record; `new` makes up an id when none was given (an update or a delete without one
    /// leaves it out: an item nobody has cannot be updated).
    fn into_furniture(self, new: bool) -> Furniture {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        };
        put("furniture_id", self.id.or_else(|| new.then(|| format!("{:024x}", fastrand::u128(..) >> 32))).map(Value::from));
        put("nombre", self.nombre.map(Value::from));
        put("descripcion", self.descripcion.map(Value::from));
        put("altura", self.altura.map(Value::from));
        put("ancho", self.ancho.map(Value::from));
        put("material", self.material.map(Value::from));
        put("autor_username", self.autor.map(Value::from));
        Furniture(m)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            say!("furniture-notify: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli));
    // Without waiting for a name lookup still under way (the resolver may take far longer than
    // --timeout to give up): the answer is in.
    runtime.shutdown_background();
    code
}

async fn run(cli: Cli) -> ExitCode {
    let Some(timeout) = seconds(cli.timeout).filter(|t| !t.is_zero()) else {
        say!("furniture-notify: --timeout must be a positive number of seconds (at most a day)");
        return ExitCode::from(2);
    };
    let notifier = Notifier::new(cli.url).with_connect_timeout(timeout);
    let (action, record) = match cli.command {
        Command::Created(r) => (Action::Created, r),
        Command::Updated(r) => (Action::Updated, r),
        Command::Deleted(r) => (Action::Deleted, r),
        Command::Demo(demo) => return run_demo(&notifier, demo).await,
    };
    if record.id.as_deref().is_some_and(|id| id.trim().is_empty()) {
        say!("furniture-notify: --id is empty; give the catalog id of the item (or leave --id out of `created` to have one made up)");
        return ExitCode::from(2);
    }
    if action != Action::Created && record.id.is_none() {
        say!("furniture-notify: {} needs --id, the catalog id of the item it {}", action.as_str(), if action == Action::Updated { "changed" } else { "deleted" });
        return ExitCode::from(2);
    }
    let msg = ProducerMessage { action, furniture: record.into_furniture(action == Action::Created) };
    match notifier.send(&msg).await {
        Ok(()) => {
            // The id as given, control characters escaped: it cannot rewrite the terminal.
            let id: String = msg.furniture.id().unwrap_or_default().chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect();
            // Sent: a closed standard output (`| head -0`) does not make it a failure, which a
            // caller might send again.
            let _ = writeln!(std::io::stdout(), "sent {} {id} to {}", action.producer_type(), notifier.shown_url());
            ExitCode::SUCCESS
        }
        Err(e @ NotifyError::InvalidUrl { .. }) => {
            say!("furniture-notify: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            say!("furniture-notify: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A number of seconds as a duration: `None` unless finite, not negative and at most a day.
fn seconds(s: f64) -> Option<Duration> {
    (s.is_finite() && (0.0..=86_400.0).contains(&s)).then(|| Duration::from_secs_f64(s))
}

async fn run_demo(notifier: &Notifier, demo: Demo) -> ExitCode {
    let period = if demo.rate.is_finite() && demo.rate > 0.0 { seconds(1.0 / demo.rate) } else { None };
    let Some(period) = period else {
        say!("furniture-notify: --rate must be a positive number of changes per second (at least one a day)");
        return ExitCode::from(2);
    };
    let Some(duration) = demo.duration.map(|s| seconds(s).filter(|d| !d.is_zero()).ok_or(())).transpose().ok() else {
        say!("furniture-notify: --duration must be a number of seconds, more than 0 and at most a day");
        return ExitCode::from(2);
    };
    let seed = demo.seed.unwrap_or_else(|| fastrand::u64(..));
    let mut gen = DemoGenerator::new(seed, demo.max_items);
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let mut publisher: Option<Publisher> = None;
    let mut sent = 0u64;
    // Changes sent on connections that ended before the broker answered them (echoed back or
    // refused): they may or may not have been made, and are made up for by as many more.
    let mut lost = 0u64;
    // Changes sent on the connection of the moment.
    let mut sent_here = 0u64;
    let mut retry = Duration::from_millis(250);
    // Connections in a row that ended with none of their changes answered.
    let mut silent = 0;
    let mut next = tokio::time::Instant::now();
    say!("demo: changes at {}/s to {} (seed {seed}); Ctrl-C stops", demo.rate, notifier.shown_url());
    let mut pending = gen.next_message();
    // One listener for the whole run: a Ctrl-C (or a service manager's SIGTERM) while
    // connecting or sending counts too.
    let stop = stop_signal();
    tokio::pin!(stop);
    let mut interrupted = false;
    // The waits for the next change's time and for a connection end at the deadline (a send
    // under way is seen through, at most SEND_TIMEOUT).
    let over = || async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
            None => std::future::pending().await,
        }
    };
    // A refusal the broker sent after the last change of the count.
    let mut refused = None;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        if demo.count.is_some_and(|c| sent.saturating_sub(lost) >= c) {
            // Counted, the changes still unanswered included: closing waits for their answers,
            // and those that never come are made up for on a new connection.
            let Some(p) = publisher.take() else { break };
            let tally = p.tally();
            tokio::select! {
                _ = &mut stop => {
                    interrupted = true;
                    lost += tally.unanswered() as u64;
                    break;
                }
                r = p.close() => refused = r,
            }
            let unanswered = tally.unanswered() as u64;
            lost += unanswered;
            if unanswered > 0 && unanswered == sent_here {
                // Making up for them would send as many again, for ever.
                say!("demo: the broker answered none of the {unanswered} changes sent on this connection (does it send changes back to their sender?)");
                break;
            }
            if refused.is_some() || demo.count.is_some_and(|c| sent.saturating_sub(lost) >= c) {
                break;
            }
            continue;
        }
        tokio::select! {
            _ = &mut stop => { interrupted = true; break }
            () = over() => break,
            () = tokio::time::sleep_until(next) => {}
        }
        if publisher.as_ref().is_some_and(Publisher::is_closed) {
            lost += end(&mut publisher, sent_here, &mut silent);
        }
        let p = match publisher.as_mut() {
            Some(p) => p,
            // A broker that closes on every change without answering it: making up for them
            // would reconnect and send again for ever.
            None if silent >= SILENT_CONNECTIONS => {
                say!("demo: the broker answered none of the changes sent on its last {silent} connections, each ended before an answer (does it send changes back to their sender?)");
                return ExitCode::FAILURE;
            }
            None => match tokio::select! { _ = &mut stop => { interrupted = true; break } () = over() => break, c = notifier.connect() => c } {
                Ok(p) => {
                    retry = Duration::from_millis(250);
                    sent_here = 0;
                    publisher.insert(p)
                }
                // Trying again cannot help: a URL that cannot work, a wrong token.
                Err(e @ NotifyError::InvalidUrl { .. }) => {
                    say!("furniture-notify: {e}");
                    return ExitCode::from(2);
                }
                Err(e @ (NotifyError::Refused { .. } | NotifyError::NotABroker { .. })) => {
                    say!("demo: {e}");
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    say!("demo: {e}; retrying in {:.1}s", retry.as_secs_f32());
                    next = tokio::time::Instant::now() + retry;
                    retry = (retry * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        // Every attempt counts, one whose connection failed as lost too: the change is tried
        // again, and counted once in `sent - lost` when that one is answered.
        sent += 1;
        sent_here += 1;
        let sending = tokio::select! {
            _ = &mut stop => { interrupted = true; break }
            r = tokio::time::timeout(SEND_TIMEOUT, p.send(&pending)) => r,
        };
        let Ok(result) = sending else {
            say!("demo: the broker took no change for {}s; reconnecting", SEND_TIMEOUT.as_secs());
            lost += end(&mut publisher, sent_here, &mut silent);
            continue;
        };
        match result {
            Ok(()) => {
                let f = &pending.furniture;
                let shown = demo.quiet
                    || writeln!(
                        std::io::stdout(),
                        "{:>6} {:<8} {} ({}, {}x{} cm)",
                        sent,
                        pending.action.as_str(),
                        f.nombre().unwrap_or_default(),
                        f.material().unwrap_or_default(),
                        f.ancho().unwrap_or_default(),
                        f.altura().unwrap_or_default()
                    )
                    .is_ok();
                pending = gen.next_message();
                // Its reader gone (`demo | head`): stopped as by Ctrl-C, the last changes'
                // answers awaited and the summary written.
                if !shown {
                    interrupted = true;
                    break;
                }
                next += period;
                let now = tokio::time::Instant::now();
                if next < now {
                    next = now;
                }
            }
            Err(e @ NotifyError::Refused { .. }) => {
                say!("demo: {e}");
                return ExitCode::FAILURE;
            }
            // An earlier change may or may not have been made (a broker on Redis lost its
            // answer): it is not sent again, so that it cannot appear twice; this one goes out on
            // a new connection.
            Err(e @ NotifyError::InDoubt { .. }) => {
                say!("demo: {e}; going on without it");
                // This one was not sent (the answer about the earlier one stopped it).
                sent -= 1;
                sent_here -= 1;
                lost += end(&mut publisher, sent_here, &mut silent);
            }
            Err(e) => {
                say!("demo: {e}; reconnecting");
                lost += end(&mut publisher, sent_here, &mut silent);
            }
        }
    }
    // The listener above has fired if the loop ended on Ctrl-C (it cannot be polled again): a
    // new one lets a second Ctrl-C cut short the wait for the last echoes.
    if let Some(p) = publisher {
        let tally = p.tally();
        refused = tokio::select! { () = stop_signal() => None, r = p.close() => r };
        lost += tally.unanswered() as u64;
    }
    let delivered = sent.saturating_sub(lost);
    match lost {
        0 => say!("demo: sent {sent} changes in {:.1}s", started.elapsed().as_secs_f32()),
        _ => say!(
            "demo: sent {sent} changes in {:.1}s; {lost} of them on connections that ended before the broker answered (they may or may not have been made)",
            started.elapsed().as_secs_f32()
        ),
    }
    if let Some(e) = refused {
        // One of the last changes was refused: the broker has not all of them.
        say!("demo: {e}");
        return ExitCode::FAILURE;
    }
    // Stopped by its deadline short of its count, or with nothing delivered at all: the broker
    // did not get what was asked for. A person's Ctrl-C is not a failure.
    match demo.count {
        Some(count) if !interrupted && delivered < count => {
            let when = if deadline.is_some_and(|d| Instant::now() >= d) { " before the deadline" } else { "" };
            say!("demo: only {delivered} of {count} changes delivered{when}");
            ExitCode::FAILURE
        }
        None if !interrupted && delivered == 0 => {
            say!("demo: no change delivered");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

/// Ctrl-C, or SIGTERM (what systemd and `docker stop` send): either stops the demo cleanly.
async fn stop_signal() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Ends the connection of the moment, whose `sent_here` changes not answered are lost with it
/// (how many is returned); `silent` counts the connections in a row that answered none of theirs.
fn end(publisher: &mut Option<Publisher>, sent_here: u64, silent: &mut u32) -> u64 {
    let unanswered = publisher.take().map_or(0, |p| p.tally().unanswered() as u64);
    *silent = if unanswered > 0 && unanswered == sent_here { *silent + 1 } else { 0 };
    unanswered
}

/// Connections in a row that may end with none of their changes answered before the demo stops
/// (a broker restarting ends one or two so).
const SILENT_CONNECTIONS: u32 = 3;

/// How long the demo waits for the broker to take one change before it reconnects.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
