# Sourced by the flood scripts: start_tls_host NAME TRANSPORT PORT [extra web host arguments...] makes a temporary
# directory ($TMP) with a fresh self-signed ECDSA P-256 certificate and an empty wwwroot, and starts the Release web
# host on core 0 with one HTTPS endpoint on PORT, logging to $TMP/server.log; its pid is $SP. The caller's EXIT
# trap stops it and removes $TMP.
start_tls_host() {
    local name=$1 transport=$2 port=$3 repo
    shift 3
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    TMP=$(mktemp -d "/tmp/$name.XXXXXX")
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
        -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
    mkdir -p "$TMP/wwwroot"
    taskset -c 0 dotnet "$repo/src/WebHost/bin/Release/net10.0/EpollTransport.WebHost.dll" --contentRoot "$TMP" --Transport "$transport" \
        --Kestrel:Endpoints:tls:Url "https://127.0.0.1:$port" --Kestrel:Endpoints:tls:Protocols Http1AndHttp2 \
        --Kestrel:Endpoints:tls:Certificate:Path "$TMP/cert.pem" --Kestrel:Endpoints:tls:Certificate:KeyPath "$TMP/key.pem" \
        --Logging:LogLevel:Default=Warning "$@" > "$TMP/server.log" 2>&1 &
    SP=$!
}
