//! The state of several brokers in one Redis (`--redis URL`): the [`Backend`] that lets a producer
//! on any broker reach the viewers of all of them, in one global order.
//!
//! Keys (all under `furniture:`):
//!
//! | key | type | holds |
//! |-----|------|-------|
//! | `furniture:seq` | string | the last `seq` allocated (`INCR`) |
//! | `furniture:stream` | string | the id of the numbering, sent in every welcome as `stream` |
//! | `furniture:log` | stream | every notification frame, entry id `<seq>-0`, capped (`MAXLEN ~`) |
//! | `furniture:catalog` | hash | `furniture_id` → the frame of the item's last change |
//! | `furniture:catalog_sizes` | hash | `furniture_id` → the bytes its record counts against `--max-catalog-bytes` |
//! | `furniture:catalog_bytes` | string | the sum of `furniture:catalog_sizes` |
//!
//! A commit is one Lua script, so it is atomic and ordered against every other broker's: it
//! allocates the `seq`, writes the frame with it into the log and applies the catalog change.
//! Each broker sends its commits from one task, in the order they were asked for, as many at
//! once as are waiting (up to [`MAX_BATCH`]): one round trip to Redis carries a whole burst, so a
//! publisher is not held to one change per round trip.
//! Each broker reads the log from its last `seq` on (`XREAD BLOCK`) and hands every entry to its
//! clients, each once. When Redis cannot be reached, commits fail at once (the publisher gets
//! the `storage` error frame: nothing is kept to send later, so nothing can be broadcast twice or
//! out of order), connected viewers stay connected, and the broker retries on its own. When it is
//! reached but stops answering, the commits queued behind the batch it holds wait for that
//! batch's answer or its resolution (at most the response timeout and [`RESOLVE_WITHIN`]).
//!
//! A commit whose answer is lost (Redis stopped answering after the script was sent) may or may
//! not have been carried out, and a refusal must mean that nothing was broadcast. Each batch
//! therefore carries its number, and the script records it under a key of this broker's
//! committing task (`furniture:committer:<id>`, `"<batch> <first seq>"`, kept a day) and carries
//! out no batch numbered at or below the one recorded. After a lost answer the broker asks, on a
//! new connection, for [`RESOLVE_WITHIN`]: a script that reads the key and, unless it names the
//! batch as done, records the batch as given up (a fence), so that the lost request, should it
//! still reach Redis later, does nothing. Done: the publishers get their `seq`s. Given up: the
//! `storage` refusal, and nothing was broadcast. No answer in time: the `in_doubt` refusal (the
//! batch may have been carried out; the next batch fences it off either way). Back,
//! it goes on reading the log where it stopped, or, if Redis lost its data (a new numbering),
//! loads the state again and asks every client to resync.
//!
//! Durability is Redis's: run it with `appendonly yes` so that an acknowledged change survives
//! Redis restarting.

use std::time::Duration;

use furniture_protocol::{decode_server, CatalogEntry, Notification, ServerFrame};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, FromRedisValue, RedisError, ScriptInvocation};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::backend::{catalog_change, record_bytes, Backend, BackendError, BoxFuture, Committed};
use crate::store::{new_stream_id, Loaded};

const SEQ: &str = "furniture:seq";
const STREAM: &str = "furniture:stream";
const LOG: &str = "furniture:log";
const CATALOG: &str = "furniture:catalog";
const CATALOG_SIZES: &str = "furniture:catalog_sizes";
const CATALOG_BYTES: &str = "furniture:catalog_bytes";

/// How long connecting to Redis may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one command may take before the connection is taken for dead.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// The log keeps at least this many notifications (more when `--history` asks for more), enough
/// for a broker cut off from Redis for a while to catch up without reloading.
pub const LOG_MIN_LEN: usize = 10_000;
/// Entries read at once.
const READ_COUNT: usize = 1000;
/// Commits sent to Redis at once, at most.
pub const MAX_BATCH: usize = 128;
/// How long the broker keeps asking whether a batch whose answer was lost was carried out,
/// before it tells its publishers that the outcome is unknown (`in_doubt`).
pub const RESOLVE_WITHIN: Duration = Duration::from_secs(10);
/// Pause between two questions after a lost answer.
const RESOLVE_RETRY: Duration = Duration::from_millis(250);
/// How long the record of a committing task's last batch is kept.
const COMMITTER_KEY_SECS: u64 = 86_400;

/// Numbers, stores and appends notifications, in order. KEYS: seq, stream, log, catalog, this
/// committing task's record, the catalog's sizes, their sum. ARGV: the catalog's bound in items;
/// the log's length; a new numbering id in case there is none; the batch's number; the record's
/// lifetime (s); the catalog's bound in bytes; then four per notification: the frame without
/// `seq` (a JSON object), the item's id (or empty), 1 when the change puts the item, 0 when it
/// removes it, empty when it leaves the catalog alone, and the bytes of its record
/// ([`crate::backend::record_bytes`]). Whether a put fits is decided here, as
/// [`crate::backend::Room::fits`] decides it. The sizes are counted again whenever they do not
/// cover the catalog item for item (a catalog written before they were kept, or changed by
/// hand): an item without one is counted as the length of its frame (a little more than its
/// record), sizes of items gone are dropped.
/// Returns their `seq`s, or nothing when the record names this batch or a later one (fenced).
const COMMIT: &str = r#"
local last = redis.call('GET', KEYS[5])
if last and tonumber(string.match(last, '^%d+')) >= tonumber(ARGV[4]) then
  return {}
end
redis.call('SET', KEYS[2], ARGV[3], 'NX')
local max_items, max_bytes = tonumber(ARGV[1]), tonumber(ARGV[6])
local total = tonumber(redis.call('GET', KEYS[7]) or '-1')
if total < 0 or redis.call('HLEN', KEYS[6]) ~= redis.call('HLEN', KEYS[4]) then
  total = 0
  for _, id in ipairs(redis.call('HKEYS', KEYS[6])) do
    if redis.call('HEXISTS', KEYS[4], id) == 0 then
      redis.call('HDEL', KEYS[6], id)
    end
  end
  for _, id in ipairs(redis.call('HKEYS', KEYS[4])) do
    local size = tonumber(redis.call('HGET', KEYS[6], id) or '-1')
    if size < 0 then
      size = redis.call('HSTRLEN', KEYS[4], id)
      redis.call('HSET', KEYS[6], id, size)
    end
    total = total + size
  end
end
local seqs = {}
for i = 7, #ARGV, 4 do
  local seq = redis.call('INCR', KEYS[1])
  local frame = string.sub(ARGV[i], 1, -2) .. ',"seq":' .. seq .. '}'
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'f', frame)
  local id, put, size = ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  if id ~= '' and put ~= '' then
    local old = 0
    local present = redis.call('HEXISTS', KEYS[4], id) == 1
    if present then
      old = tonumber(redis.call('HGET', KEYS[6], id) or redis.call('HSTRLEN', KEYS[4], id))
    end
    if put == '0' then
      redis.call('HDEL', KEYS[4], id)
      redis.call('HDEL', KEYS[6], id)
      total = total - old
    elseif (present and total - old + size <= max_bytes)
        or (not present and redis.call('HLEN', KEYS[4]) < max_items and total + size <= max_bytes) then
      redis.call('HSET', KEYS[4], id, frame)
      redis.call('HSET', KEYS[6], id, size)
      total = total - old + size
    end
  end
  seqs[#seqs + 1] = seq
end
redis.call('SET', KEYS[7], string.format('%d', total))
redis.call('SET', KEYS[5], ARGV[4] .. ' ' .. seqs[1], 'EX', ARGV[5])
return seqs
"#;

/// Whether a batch whose answer was lost was carried out. KEYS: the committing task's record.
/// ARGV: the batch's number; the record's lifetime (s). Returns the batch's first `seq` when it
/// was, else 0, having recorded the batch as given up so that it never will be.
const RESOLVE: &str = r#"
local last = redis.call('GET', KEYS[1])
if last then
  local batch, first = string.match(last, '^(%d+) (%d+)$')
  if tonumber(batch) == tonumber(ARGV[1]) then
    return tonumber(first)
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' 0', 'EX', ARGV[2])
return 0
"#;

/// Everything at one instant. KEYS: seq, stream, log, catalog. ARGV: history length, a new
/// numbering id in case there is none.
const LOAD: &str = r#"
redis.call('SET', KEYS[2], ARGV[2], 'NX')
local history = {}
if tonumber(ARGV[1]) > 0 then
  history = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', ARGV[1])
end
return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('GET', KEYS[2]), redis.call('HVALS', KEYS[4]), history}
"#;

/// The numbering's id (made if there is none, as at a commit) and its last `seq`: the higher of
/// the counter and the newest entry of the log, which move together.
const NUMBERING: &str = r#"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local logged = 0
if last[1] then logged = tonumber(string.match(last[1][1], '^(%d+)')) end
return {redis.call('GET', KEYS[1]), math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), logged)}
"#;

/// A log entry as Redis returns it: its id and its field/value pairs.
type Entry = (String, Vec<String>);

/// Brokers sharing one Redis.
pub struct Redis {
    link: Link,
    /// For commits and short reads (shared with the committing task, so that a connection found
    /// dead by either is replaced for both).
    commands: Arc<Mutex<Option<MultiplexedConnection>>>,
    /// For the follower's blocking reads, which would hold up commands behind them.
    follower: Mutex<Option<MultiplexedConnection>>,
    max_items: usize,
    max_bytes: usize,
    log_len: usize,
    load: redis::Script,
    numbering: redis::Script,
    /// The committing task's queue, started with the first commit.
    commits: OnceLock<mpsc::UnboundedSender<Job>>,
}

/// Where Redis is, and how to connect to it.
#[derive(Clone)]
struct Link {
    client: redis::Client,
    /// The URL without its password, for messages.
    url: String,
}

/// One commit waiting for the committing task: the script's three arguments for it, and where
/// its `seq` goes.
struct Job {
    frame: String,
    id: String,
    put: &'static str,
    size: usize,
    done: oneshot::Sender<Result<u64, BackendError>>,
}

/// The task that sends every commit of this broker, in the order they were asked for.
struct Committer {
    link: Link,
    connection: Arc<Mutex<Option<MultiplexedConnection>>>,
    max_items: usize,
    max_bytes: usize,
    log_len: usize,
    script: redis::Script,
    resolve: redis::Script,
    /// `furniture:committer:<id>`: the number and first `seq` of this task's last batch.
    record: String,
    /// The number of the batch being sent (from 1).
    batch_no: u64,
}

/// A script that did not answer: why, and whether it may have been carried out all the same (it
/// was sent and the answer was lost).
struct Failed {
    error: BackendError,
    lost: bool,
}

impl Committer {
    async fn run(mut self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(job) = jobs.recv().await {
            self.batch_no += 1;
            batch.push(job);
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            match self.commit(&batch).await {
                Ok(seqs) if seqs.len() == batch.len() => {
                    for (job, seq) in batch.drain(..).zip(seqs) {
                        let _ = job.done.send(Ok(seq));
                    }
                }
                Ok(seqs) => {
                    let e = BackendError::Write(format!("Redis at {} answered {} seqs for {} commits", self.link.url, seqs.len(), batch.len()));
                    for job in batch.drain(..) {
                        let _ = job.done.send(Err(e.clone()));
                    }
                }
                Err(e) => {
                    for job in batch.drain(..) {
                        let _ = job.done.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// One script for the whole batch: all of it is committed, or none. When the answer is
    /// lost, finds out which (see the module's documentation).
    async fn commit(&self, batch: &[Job]) -> Result<Vec<u64>, BackendError> {
        let mut call = self.script.prepare_invoke();
        call.key(SEQ).key(STREAM).key(LOG).key(CATALOG).key(&self.record).key(CATALOG_SIZES).key(CATALOG_BYTES);
        call.arg(self.max_items).arg(self.log_len).arg(new_stream_id()).arg(self.batch_no).arg(COMMITTER_KEY_SECS).arg(self.max_bytes);
        for job in batch {
            call.arg(&job.frame).arg(&job.id).arg(job.put).arg(job.size);
        }
        match self.invoke(&call).await {
            Ok(seqs) => Ok(seqs),
            Err(Failed { error, lost: true }) => self.resolve(batch.len(), error).await,
            Err(Failed { error, .. }) => Err(error),
        }
    }

    /// Runs a script on the committer's connection (connecting first if need be); a connection
    /// that failed is dropped, so that the next call connects again.
    async fn invoke<T: FromRedisValue>(&self, call: &ScriptInvocation<'_>) -> Result<T, Failed> {
        let mut con = self.link.connection(&self.connection, RESPONSE_TIMEOUT).await.map_err(|error| Failed { error, lost: false })?;
        match call.invoke_async(&mut con).await {
            Ok(answer) => Ok(answer),
            Err(e) => {
                // Sent, maybe carried out, answer lost: the connection is gone or timed out.
                let lost = e.is_timeout() || e.is_connection_dropped() || e.is_io_error();
                Err(Failed { error: self.link.failed(&self.connection, e).await, lost })
            }
        }
    }

    /// Asks Redis, for at most [`RESOLVE_WITHIN`], whether the current batch was carried out,
    /// fencing it off if it was not. `error` is what made the answer lost.
    async fn resolve(&self, len: usize, error: BackendError) -> Result<Vec<u64>, BackendError> {
        let deadline = tokio::time::Instant::now() + RESOLVE_WITHIN;
        loop {
            let mut call = self.resolve.prepare_invoke();
            call.key(&self.record).arg(self.batch_no).arg(COMMITTER_KEY_SECS);
            match self.invoke::<u64>(&call).await.map_err(|f| f.error) {
                Ok(0) => return Err(error),
                Ok(first) => return Ok((first..first + len as u64).collect()),
                Err(_) if tokio::time::Instant::now() + RESOLVE_RETRY < deadline => tokio::time::sleep(RESOLVE_RETRY).await,
                Err(e) => {
                    return Err(BackendError::InDoubt(format!(
                        "Redis at {} stopped answering while writing a change and did not say in {} s whether it was written: {e}",
                        self.link.url,
                        RESOLVE_WITHIN.as_secs()
                    )))
                }
            }
        }
    }
}

impl Link {
    async fn connection(&self, slot: &Mutex<Option<MultiplexedConnection>>, timeout: Duration) -> Result<MultiplexedConnection, BackendError> {
        let mut slot = slot.lock().await;
        if let Some(con) = slot.as_ref() {
            return Ok(con.clone());
        }
        let config = AsyncConnectionConfig::new().set_connection_timeout(CONNECT_TIMEOUT).set_response_timeout(timeout);
        let con = self.client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| self.unreachable(e))?;
        *slot = Some(con.clone());
        Ok(con)
    }

    /// A connection of its own, kept by nobody, whose answers may take `timeout`.
    async fn one_off(&self, timeout: Duration) -> Result<MultiplexedConnection, BackendError> {
        let config = AsyncConnectionConfig::new().set_connection_timeout(CONNECT_TIMEOUT).set_response_timeout(timeout);
        self.client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| self.unreachable(e))
    }

    /// Drops a connection that failed, so that the next call connects again.
    async fn failed(&self, slot: &Mutex<Option<MultiplexedConnection>>, e: RedisError) -> BackendError {
        if Link::lost(&e) {
            *slot.lock().await = None;
        }
        self.error(e)
    }

    /// Whether the connection that gave `e` is of no more use.
    fn lost(e: &RedisError) -> bool {
        e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_connection_refusal() || e.is_unrecoverable_error()
    }

    fn error(&self, e: RedisError) -> BackendError {
        if Link::lost(&e) {
            self.unreachable(e)
        } else {
            BackendError::Write(format!("Redis at {} refused: {e}", self.url))
        }
    }

    fn unreachable(&self, e: RedisError) -> BackendError {
        BackendError::Unreachable(format!("Redis at {} is unreachable: {e}", self.url))
    }
}

impl Redis {
    /// Connects (failing at once when Redis cannot be reached). `history` is how many
    /// notifications a broker keeps for `sync`, `max_items` and `max_bytes` the catalog's bounds.
    pub async fn connect(url: &str, history: usize, max_items: usize, max_bytes: usize) -> Result<Redis, BackendError> {
        let client = redis::Client::open(url).map_err(|e| BackendError::Unreachable(format!("not a Redis URL: {e}")))?;
        let redis = Redis {
            link: Link { client, url: redact(url) },
            commands: Arc::new(Mutex::new(None)),
            follower: Mutex::new(None),
            max_items,
            max_bytes,
            log_len: history.max(LOG_MIN_LEN),
            load: redis::Script::new(LOAD),
            numbering: redis::Script::new(NUMBERING),
            commits: OnceLock::new(),
        };
        let mut con = redis.connection(&redis.commands, RESPONSE_TIMEOUT).await?;
        let _: String = redis::cmd("PING").query_async(&mut con).await.map_err(|e| redis.link.unreachable(e))?;
        Ok(redis)
    }

    /// Keeps at most about `len` notifications in the log instead (tests use it to reach the
    /// log's bound quickly).
    #[doc(hidden)]
    pub fn with_log_len(mut self, len: usize) -> Redis {
        self.log_len = len;
        self
    }

    async fn connection(&self, slot: &Mutex<Option<MultiplexedConnection>>, timeout: Duration) -> Result<MultiplexedConnection, BackendError> {
        self.link.connection(slot, timeout).await
    }

    async fn failed(&self, slot: &Mutex<Option<MultiplexedConnection>>, e: RedisError) -> BackendError {
        self.link.failed(slot, e).await
    }

    /// The committing task's queue (the task starts with the first commit).
    fn commits(&self) -> &mpsc::UnboundedSender<Job> {
        self.commits.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let committer = Committer {
                link: self.link.clone(),
                connection: self.commands.clone(),
                max_items: self.max_items,
                max_bytes: self.max_bytes,
                log_len: self.log_len,
                script: redis::Script::new(COMMIT),
                resolve: redis::Script::new(RESOLVE),
                record: format!("furniture:committer:{}", new_stream_id()),
                batch_no: 0,
            };
            tokio::spawn(committer.run(rx));
            tx
        })
    }

    /// Log entries as committed notifications; a missing `seq` right after `after` is a gap.
    fn committed(after: u64, entries: Vec<Entry>) -> Result<Vec<Committed>, BackendError> {
        let mut out = Vec::with_capacity(entries.len());
        for (id, fields) in entries {
            let seq = id.split('-').next().and_then(|s| s.parse::<u64>().ok());
            let (Some(seq), Some(frame)) = (seq, fields.into_iter().nth(1)) else { continue };
            if seq <= after {
                continue;
            }
            let expected = out.last().map_or(after, |c: &Committed| c.seq) + 1;
            if seq != expected {
                return Err(BackendError::Gap(format!(
                    "the Redis log no longer holds notifications {expected}..{seq} (it keeps the last {LOG_MIN_LEN} or --history)"
                )));
            }
            out.push(Committed { seq, frame, record_bytes: None });
        }
        Ok(out)
    }
}

impl Backend for Redis {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn shared(&self) -> bool {
        true
    }

    fn load(&self, history: usize) -> BoxFuture<'_, Result<Loaded, BackendError>> {
        Box::pin(async move {
            // A catalog of many items takes longer to send than a commit's answer may: a
            // connection of its own, with a longer timeout, that the commits never share.
            let mut con = self.link.one_off(RESPONSE_TIMEOUT * 5).await?;
            let (seq, stream, catalog, mut log): (u64, String, Vec<String>, Vec<Entry>) = match self
                .load
                .key(SEQ)
                .key(STREAM)
                .key(LOG)
                .key(CATALOG)
                .arg(history)
                .arg(new_stream_id())
                .invoke_async(&mut con)
                .await
            {
                Ok(v) => v,
                Err(e) => return Err(self.link.error(e)),
            };
            log.reverse();
            // The newest `history` entries: consecutive from the oldest of them on.
            let oldest = log.first().and_then(|(id, _)| id.split('-').next()?.parse::<u64>().ok()).unwrap_or(1);
            let history = Redis::committed(oldest.saturating_sub(1), log).unwrap_or_default();
            let catalog = catalog
                .iter()
                .filter_map(|frame| match decode_server(frame) {
                    ServerFrame::Notification(n) => {
                        Some(CatalogEntry { furniture: Arc::new(n.furniture), seq: n.seq, timestamp: n.timestamp })
                    }
                    _ => None,
                })
                .collect();
            Ok(Loaded { stream, seq, catalog, history: history.into_iter().map(|c| (c.seq, c.frame)).collect() })
        })
    }

    /// Takes its place in this broker's order of commits at once; the future gives its `seq`.
    /// It waits in the queue for the batches before it, each bounded by the response timeout, and
    /// by [`RESOLVE_WITHIN`] more when its answer was lost; the callers bound how many they
    /// start (each connection [`crate::connection::MAX_PUBLISHES_IN_FLIGHT`]).
    fn commit(&self, mut draft: Notification) -> BoxFuture<'_, Result<u64, BackendError>> {
        draft.seq = None;
        let id = draft.furniture.id();
        // Whether a new item fits is decided in the script; here only put or remove.
        let put = match catalog_change(draft.action, id.is_some(), true) {
            Some(true) => "1",
            Some(false) => "0",
            None => "",
        };
        let (done, result) = oneshot::channel();
        let job = Job { frame: draft.encode(), id: id.unwrap_or_default(), put, size: record_bytes(&draft.furniture), done };
        let queued = self.commits().send(job).is_ok();
        let url = self.link.url.clone();
        Box::pin(async move {
            match (queued, result.await) {
                (true, Ok(result)) => result,
                _ => Err(BackendError::Unreachable(format!("Redis at {url}: the committing task has stopped"))),
            }
        })
    }

    fn read_after(&self, after: u64, wait: Duration) -> BoxFuture<'_, Result<Vec<Committed>, BackendError>> {
        Box::pin(async move {
            if wait.is_zero() {
                let mut con = self.connection(&self.commands, RESPONSE_TIMEOUT).await?;
                let entries: Vec<Entry> = match redis::cmd("XRANGE")
                    .arg(LOG)
                    .arg(format!("{}-0", after + 1))
                    .arg("+")
                    .arg("COUNT")
                    .arg(READ_COUNT)
                    .query_async(&mut con)
                    .await
                {
                    Ok(v) => v,
                    Err(e) => return Err(self.failed(&self.commands, e).await),
                };
                return Redis::committed(after, entries);
            }
            let mut con = self.connection(&self.follower, wait + RESPONSE_TIMEOUT).await?;
            let reply: Option<Vec<(String, Vec<Entry>)>> = match redis::cmd("XREAD")
                .arg("COUNT")
                .arg(READ_COUNT)
                .arg("BLOCK")
                .arg(wait.as_millis() as u64)
                .arg("STREAMS")
                .arg(LOG)
                .arg(format!("{after}-0"))
                .query_async(&mut con)
                .await
            {
                Ok(v) => v,
                Err(e) => return Err(self.failed(&self.follower, e).await),
            };
            let entries = reply.into_iter().flatten().flat_map(|(_, entries)| entries).collect();
            Redis::committed(after, entries)
        })
    }

    fn stream(&self) -> BoxFuture<'_, Result<String, BackendError>> {
        Box::pin(async move { self.numbering().await.map(|(stream, _)| stream) })
    }

    fn numbering(&self) -> BoxFuture<'_, Result<(String, Option<u64>), BackendError>> {
        Box::pin(async move {
            let mut con = self.connection(&self.commands, RESPONSE_TIMEOUT).await?;
            let got: Result<(String, u64), RedisError> =
                self.numbering.key(STREAM).key(SEQ).key(LOG).arg(new_stream_id()).invoke_async(&mut con).await;
            match got {
                Ok((stream, seq)) => Ok((stream, Some(seq))),
                Err(e) => Err(self.failed(&self.commands, e).await),
            }
        })
    }
}

/// `url` as it may be shown: what comes before its last `@` (the user and password, which may
/// hold `/`, `?` or `@` themselves) and its query (where a unix socket's URL carries `pass=`)
/// replaced by `***`. It may hide more than the password, never less.
pub fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let (head, mut rest) = url.split_at(start);
    let mut shown = head.to_owned();
    if let Some(at) = rest.rfind('@') {
        shown.push_str("***");
        rest = &rest[at..];
    }
    match rest.split_once('?') {
        Some((before, _)) => {
            shown.push_str(before);
            shown.push_str("?***");
        }
        None => shown.push_str(rest),
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(redact("redis://:s3cret@10.0.0.5:6379/2"), "redis://***@10.0.0.5:6379/2");
        assert_eq!(redact("rediss://user:p@ss@host/0"), "rediss://***@host/0");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        // A unix socket's password goes in the query.
        assert_eq!(redact("redis+unix:///run/redis.sock?db=1&pass=s3cret"), "redis+unix:///run/redis.sock?***");
        // Passwords holding what ends a URL's parts, not percent-encoded.
        assert_eq!(redact("redis://:ab/cd@h:6379"), "redis://***@h:6379");
        assert_eq!(redact("redis://:ab?cd@h:6379/0"), "redis://***@h:6379/0");
        assert_eq!(redact("redis://:ab#cd@h:6379/0"), "redis://***@h:6379/0");
        assert_eq!(redact("redis+unix:///sock?pass=a@b"), "redis+unix://***@b");
        assert_eq!(redact(":s3cret@h:6379"), "***@h:6379", "without a scheme");
    }
}
