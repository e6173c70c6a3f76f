use clap::Parser;
use furniture_broker::{Broker, Config};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let json = config.log_format == "json";
    // Start-up failures: a line of their own for a person, an error event in JSON logs.
    let fail = |what: String| {
        if json {
            tracing::error!("{what}");
        } else {
            eprintln!("furniture-broker: {what}");
        }
        std::process::ExitCode::FAILURE
    };
    if json {
        logs.json().flatten_event(true).init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init();
    }

    if let Err(why) = config.check() {
        return fail(why);
    }
    let listen = config.listen;
    let publish_rule = match (&config.publish_token, config.allow_remote_publish) {
        (Some(_), _) => "token",
        (None, false) => "loopback only (protected mode)",
        (None, true) => "anyone",
    };
    let state = match &config.redis {
        Some(url) => format!("redis {}", furniture_broker::redis::redact(url)),
        None if config.in_memory => "memory only".to_owned(),
        None => config.data_dir.display().to_string(),
    };
    let dashboard = config.dashboard_dir.display().to_string();
    let open_to_all = config.publish_token.is_none() && config.allow_remote_publish;
    let broker = match Broker::open(config).await {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {listen}: {e}")),
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    if open_to_all {
        let banner = "ANYONE WHO CAN REACH THIS PORT CAN PUBLISH TO EVERY SCREEN: \
                      --allow-remote-publish is set and no --publish-token. Set a token instead.";
        // Loud for a person; JSON logs stay one object per line.
        if !json {
            eprintln!("\n  WARNING: {banner}\n");
        }
        tracing::warn!("{banner}");
    }
    tracing::info!(%addr, %dashboard, %state, seq = broker.seq(), publishing = publish_rule, "broker listening");
    if !std::path::Path::new(&dashboard).join("index.html").is_file() {
        tracing::warn!(%dashboard, "no dashboard there (no index.html): the page answers 404, saying how to build it; WebSocket clients are served as usual");
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    match broker.serve(listener, shutdown).await {
        Ok(()) => {
            tracing::info!("broker stopped");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => fail(e.to_string()),
    }
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("stopping: closing every client with 1001");
    shutdown.cancel();
}
