# Sourced by the scripts: puts the project's own tools first on PATH.
export PATH="$PWD/.tools/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# `$1` percent-encoded byte by byte (all but letters, digits and -._~), for a URL's query.
url_encode() {
  local LC_ALL=C text=$1 out= c i
  for ((i = 0; i < ${#text}; i++)); do
    c=${text:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

# Python's websockets for the interop peers, when the machine's Python could not take it.
if [ -x .tools/py/bin/python3 ]; then
  export PATH="$PWD/.tools/py/bin:$PATH"
fi

# The host by which this machine reaches a listener on $1, an address as `--listen` takes it
# (`0.0.0.0:8765`, `[::]:8765`, `10.0.0.5:8765`): loopback for the addresses that mean "every
# interface", else the address itself (without an IPv6 address's brackets).
connect_host() {
  local host=${1%:*}
  host=${host#[}
  host=${host%]}
  case $host in
    '' | 0.0.0.0) echo 127.0.0.1 ;;
    ::) echo ::1 ;;
    *) echo "$host" ;;
  esac
}

# $1 as the host of a URL: an IPv6 address in brackets.
url_host() { case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }

# Whether something accepts TCP connections on port $1 of host $2 (default 127.0.0.1).
listening() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

# Fails with a clear message when port $1 of host $3 (default 127.0.0.1) is already taken ($2
# names what to do instead).
need_free_port() {
  if listening "$1" "${3:-}"; then
    echo "port $1 is already in use (another broker, or an earlier run still going?): stop it, or $2" >&2
    exit 1
  fi
}

# Waits up to 5 s for process $1 to listen on port $2 of host $4 (default 127.0.0.1); fails,
# showing log $3, if it exits first.
await_listening() {
  for _ in $(seq 1 100); do
    listening "$2" "${4:-}" && return 0
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
