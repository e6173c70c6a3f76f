# Sourced by the scripts: puts the project's own tools first on PATH.
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# Whether something accepts TCP connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Fails with a clear message when 127.0.0.1:$1 is already taken ($2 names what wanted it).
need_free_port() {
  if listening "$1"; then
    echo "port $1 is already in use (another broker, or an earlier run still going?): stop it, or $2" >&2
    exit 1
  fi
}

# Waits up to 5 s for process $1 to listen on port $2; fails, showing log $3, if it exits first.
await_listening() {
  for _ in $(seq 1 100); do
    listening "$2" && return 0
    if ! kill -0 "$1" 2>/dev/null; then
      echo "it did not start (log: $3):" >&2
      cat "$3" >&2
      exit 1
    fi
    sleep 0.05
  done
  echo "nothing listens on port $2 after 5 s (log: $3)" >&2
  exit 1
}
