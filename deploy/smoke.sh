#!/usr/bin/env bash
# Smoke test of the image and compose.yaml, end to end, with no Docker Hub access.
#
#   sudo deploy/smoke.sh          # from the repository root or anywhere; needs root (dockerd, apt)
#
# 1. Set-up: installs Debian's docker.io if dockerd is missing, adds Compose v2 and buildx from
#    Debian packages when the release has none (bookworm: taken from trixie), starts dockerd if it
#    is not running (and stops it again at the end), and builds a local Debian bookworm + Python
#    3.11 base image with debootstrap, imported under the Dockerfile's PYTHON_IMAGE name.
# 2. Builds the project's Dockerfile unchanged: cold (empty build cache), warm (nothing changed),
#    and after a one-line source edit (only the small project layer is rebuilt).
# 3. Brings up compose.yaml with deploy/smoke/compose.smoke.yaml (local stand-ins for PostgreSQL,
#    Redis and MinIO) and checks: migrate, health checks, read-only root with only /data (and the
#    /tmp tmpfs) writable, token -> upload -> restore -> follow to ready -> download through the
#    published S3 URL, --scale worker=2, down + up keeps the data.
# 4. Prints the figures last; exits non-zero on the first failure (with the services' logs);
#    removes its containers, networks and volumes on every exit.
#
# Environment: SMOKE_CA_BUNDLE (CA bundle passed to the builds as the `ca-bundle` secret; default
# the system bundle), DEBIAN_MIRROR (default http://deb.debian.org/debian), SMOKE_KEEP_DOCKERD=1
# (leave a dockerd this script started running).
# The whole script is one { } block: bash parses it before running it, so editing this file while
# it runs cannot change what runs.
{
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PROJECT=rekindle-smoke
IMAGE=rekindle-smoke/rekindle:latest
STANDINS=rekindle-smoke/standins:latest
BASE_IMAGE=$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${SMOKE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
WORK=$(mktemp -d /tmp/rekindle-smoke.XXXXXX)
STARTED_DOCKERD=
COMPOSE_UP=
declare -A FIG

log() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nSMOKE FAILED: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
compose() {
  docker compose -p "$PROJECT" --env-file "$WORK/smoke.env" \
    -f "$ROOT/compose.yaml" -f "$ROOT/deploy/smoke/compose.smoke.yaml" "$@"
}

cleanup() {
  local rc=$?
  set +e
  if [ -n "$COMPOSE_UP" ]; then
    if [ "$rc" -ne 0 ]; then
      echo "--- compose ps / logs (last 40 lines per service) ---" >&2
      compose ps -a >&2
      compose logs --no-color --tail 40 >&2
    fi
    compose down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1
  fi
  docker volume rm -f rekindle-smoke-ro >/dev/null 2>&1
  rm -rf "$WORK"
  if [ -n "$STARTED_DOCKERD" ] && [ -z "${SMOKE_KEEP_DOCKERD:-}" ]; then
    kill "$STARTED_DOCKERD" 2>/dev/null
    for _ in $(seq 30); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 1; done
  fi
  [ "$rc" -eq 0 ] || echo "smoke test FAILED (exit $rc)" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP  # so that a timeout or ^C cleans up too
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" -eq 0 ] || fail "run as root (installs packages and starts dockerd)"
[ -n "$BASE_IMAGE" ] || fail "no 'ARG PYTHON_IMAGE=' in Dockerfile"

# ---------------------------------------------------------------------------------------------
log "Docker daemon, Compose v2, buildx"
apt_ready=
apt_update() { [ -n "$apt_ready" ] || { apt-get update -qq; apt_ready=1; }; }
if ! command -v dockerd >/dev/null; then
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
# Debian 12 ships Compose v1 only (`docker-compose` 1.29 rejects compose.yaml) and no buildx;
# Debian 13's docker-compose (v2) and docker-buildx packages are static Go binaries that need only
# glibc >= 2.34, so they install on 12 as they are.
need_plugins=()
docker compose version >/dev/null 2>&1 || need_plugins+=(docker-compose)
docker buildx version >/dev/null 2>&1 || need_plugins+=(docker-buildx)
if [ "${#need_plugins[@]}" -gt 0 ]; then
  apt_update
  if apt-cache policy docker-compose | grep -q 'Candidate: 2\.'; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_plugins[@]}" >/dev/null
  else
    apt_dir=$WORK/apt
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
    echo "deb $DEBIAN_MIRROR trixie main" >"$apt_dir/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives")
    apt-get "${apt_opts[@]}" update -qq
    (cd "$apt_dir" && apt-get "${apt_opts[@]}" download "${need_plugins[@]}" 2>/dev/null)
    dpkg -i "$apt_dir"/*.deb >/dev/null
  fi
fi
if ! docker info >/dev/null 2>&1; then
  setsid dockerd >/var/log/rekindle-smoke-dockerd.log 2>&1 </dev/null &
  STARTED_DOCKERD=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || fail "dockerd did not start (see /var/log/rekindle-smoke-dockerd.log)"
fi
docker compose version | grep -q 'version v\?2' || fail "Compose v2 is required"
docker buildx version >/dev/null || fail "docker buildx is required"
DOCKER_VERSION=$(docker version -f '{{.Server.Version}}')
COMPOSE_VERSION=$(docker compose version --short)
echo "dockerd $DOCKER_VERSION ($(docker info -f '{{.Driver}}')), compose $COMPOSE_VERSION, $(docker buildx version | cut -d' ' -f1-2)"

secret_args=()
if [ -s "$CA_BUNDLE" ]; then secret_args=(--secret "id=ca-bundle,src=$CA_BUNDLE"); fi

# ---------------------------------------------------------------------------------------------
log "base image $BASE_IMAGE (local stand-in: Debian bookworm + python3 via debootstrap)"
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "present: $(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")"
  FIG[base]="reused"
else
  command -v debootstrap >/dev/null || {
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  t=$(now)
  debootstrap --variant=minbase --include=python3,python3-pip,python-is-python3,ca-certificates \
    bookworm "$WORK/rootfs" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
  # Like python:*-slim: no apt lists or caches, and pip may install (no PEP 668 marker).
  rm -rf "$WORK"/rootfs/var/lib/apt/lists/* "$WORK"/rootfs/var/cache/apt/*.bin \
    "$WORK"/rootfs/usr/lib/python3*/EXTERNALLY-MANAGED
  tar -C "$WORK/rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
  FIG[base]="$(since "$t") s"
fi
docker run --rm "$BASE_IMAGE" python --version

# ---------------------------------------------------------------------------------------------
log "build the image (Dockerfile unchanged): cold"
docker builder prune -af >/dev/null
t=$(now)
DOCKER_BUILDKIT=1 docker build -q "${secret_args[@]}" -t "$IMAGE" . >/dev/null
FIG[cold]=$(since "$t")
log "build: warm (nothing changed)"
t=$(now)
DOCKER_BUILDKIT=1 docker build -q "${secret_args[@]}" -t "$IMAGE" . >/dev/null
FIG[warm]=$(since "$t")
log "build: after a one-line source edit (a copy of the context)"
mkdir -p "$WORK/ctx"
cp -a Dockerfile .dockerignore pyproject.toml uv.lock README.md src "$WORK/ctx/"
mkdir -p "$WORK/ctx/deploy" && cp -a deploy/healthcheck.py "$WORK/ctx/deploy/"
echo "# smoke edit" >>"$WORK/ctx/src/rekindle/__init__.py"
t=$(now)
DOCKER_BUILDKIT=1 docker build -q "${secret_args[@]}" -t rekindle-smoke/edited:latest "$WORK/ctx" >/dev/null
FIG[edit]=$(since "$t")
# The layers that differ from the unedited image, with their uncompressed sizes: only the
# project's small layer should (docs/deployment.md, "The image").
FIG[edit_layers]=$(docker save rekindle-smoke/edited:latest | python3 -c '
import json, subprocess, sys, tarfile
old = set(json.loads(subprocess.run(["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}",
                                     sys.argv[1]], check=True, capture_output=True, text=True).stdout))
sizes, manifest, config = {}, None, {}
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
    for member in tar:
        if member.name.endswith("layer.tar"):
            sizes[member.name] = member.size
        elif member.name == "manifest.json":
            manifest = json.load(tar.extractfile(member))
        elif member.name.endswith(".json") and member.isfile():
            config[member.name] = json.load(tar.extractfile(member))
layers = manifest[0]["Layers"]
diff_ids = config[manifest[0]["Config"]]["rootfs"]["diff_ids"]
new = [sizes[path] for path, diff in zip(layers, diff_ids) if diff not in old]
print(f"{len(new)} of {len(layers)} layers, " + " + ".join(f"{n / 1e6:.2f} MB" for n in new))
' "$IMAGE")
docker image rm rekindle-smoke/edited:latest >/dev/null
FIG[size]=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')
FIG[deps_layer]=$(docker history --format '{{.Size}} {{.CreatedBy}}' "$IMAGE" \
  | awk '/COPY \/app\/.venv/ {print $1; exit}')

# ---------------------------------------------------------------------------------------------
log "image checks: user, no dev dependencies, native libraries, code not writable"
[ "$(docker run --rm "$IMAGE" id -u)" = 10001 ] || fail "the image does not run as uid 10001"
docker run --rm "$IMAGE" python -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('pytest', 'moto', 'mypy', 'ruff')))" \
  || fail "dev dependencies in the image"
docker run --rm "$IMAGE" python -c "
import cv2, av, psycopg, pillow_heif
from rekindle.imaging.decode import register_heif
register_heif()
print('opencv', cv2.__version__, '| av', av.__version__, '| psycopg', psycopg.__version__, '| libpq', psycopg.pq.version())"
# D3: even without --read-only, uid 10001 cannot rewrite its own code.
if docker run --rm "$IMAGE" sh -c 'touch /app/.venv/x || touch /app/.venv/lib/python3.11/site-packages/rekindle/x' 2>/dev/null; then
  fail "the runtime user can write to /app/.venv"
fi
docker volume create rekindle-smoke-ro >/dev/null
docker run --rm --read-only -v rekindle-smoke-ro:/data "$IMAGE" sh -c 'touch /data/ok' \
  || fail "/data is not writable under --read-only"
if docker run --rm --read-only -v rekindle-smoke-ro:/data "$IMAGE" sh -c 'touch /app/x || touch /etc/x || touch /x' 2>/dev/null; then
  fail "something outside /data is writable under --read-only"
fi
# Embedded mode (SQLite, local folder) is healthy under --read-only with /data, and the health
# check follows `serve --port` (no fixed 8000).
cid=$(docker run -d --read-only --tmpfs /tmp -v rekindle-smoke-ro:/data "$IMAGE" \
  rekindle serve --host 0.0.0.0 --port 18080)
for _ in $(seq 90); do
  st=$(docker inspect -f '{{.State.Health.Status}}' "$cid")
  [ "$st" = healthy ] && break; sleep 1
done
docker rm -f "$cid" >/dev/null
[ "$st" = healthy ] || fail "embedded 'rekindle serve --port 18080' not healthy under --read-only (was: $st)"
echo "uid 10001; no dev deps; libraries load; code read-only; /data writable; embedded serve --port 18080 healthy"

# ---------------------------------------------------------------------------------------------
log "stand-ins for PostgreSQL, Redis and S3 (deploy/smoke/standins.Dockerfile)"
# Rebuilt only when deploy/smoke/ or the base image changed (a label carries their hash).
standins_hash=$( (cat deploy/smoke/standins.Dockerfile deploy/smoke/postgres-entrypoint.sh;
  docker image inspect -f '{{.Id}}' "$BASE_IMAGE") | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "rekindle.smoke.hash"}}' "$STANDINS" 2>/dev/null)" = "$standins_hash" ]; then
  echo "present (same recipe and base): $STANDINS"
else
  t=$(now)
  DOCKER_BUILDKIT=1 docker build -q "${secret_args[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "rekindle.smoke.hash=$standins_hash" \
    -f deploy/smoke/standins.Dockerfile -t "$STANDINS" deploy/smoke >/dev/null
  echo "built in $(since "$t") s"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port)
S3_PORT=$(free_port)
rand() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }
cat >"$WORK/smoke.env" <<EOF
REKINDLE_IMAGE=$IMAGE
REKINDLE_PORT=$API_PORT
MINIO_PORT=$S3_PORT
S3_PUBLIC_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
POSTGRES_PASSWORD=$(rand)
MINIO_ROOT_USER=smoke-root
MINIO_ROOT_PASSWORD=$(rand)
MINIO_APP_USER=smoke-app
MINIO_APP_PASSWORD=$(rand)
EOF
compose config --quiet || fail "docker compose config rejects compose.yaml + the smoke override"
API=http://127.0.0.1:$API_PORT/api/v1

# Wait until every running container of the services named has health "healthy".
wait_healthy() {
  local deadline=$(( $(date +%s) + 480 )) want=$1; shift
  while :; do
    local n=0 ids
    ids=$(compose ps -q "$@")
    for id in $ids; do
      [ "$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ] && n=$((n + 1))
    done
    [ "$n" -ge "$want" ] && return 0
    [ "$(date +%s)" -lt "$deadline" ] || fail "only $n of $want containers of $* healthy after 480 s"
    sleep 1
  done
}
APP_SERVICES=(api worker-beat worker)

log "compose up"
COMPOSE_UP=1
t=$(now)
compose up -d --quiet-pull 2>&1 | tail -n 3
wait_healthy 3 "${APP_SERVICES[@]}"
FIG[healthy]=$(since "$t")
wait_healthy 3 postgres redis minio
[ "$(docker inspect -f '{{.State.ExitCode}}' "$(compose ps -aq migrate)")" = 0 ] || fail "migrate did not exit 0"
compose logs migrate | grep -q "database is up to date" || fail "migrate did not report the upgrade"
compose ps --format '{{.Service}}: {{.Status}}'
curl -sf "http://127.0.0.1:$API_PORT/readyz" | tee "$WORK/readyz"; echo
grep -q '"status":"ready"' "$WORK/readyz" || fail "/readyz is not ready"

log "read-only containers, only /data writable"
api_id=$(compose ps -q api)
[ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$api_id")" = true ] || fail "api's root is not read-only"
compose exec -T api sh -c 'test "$(id -u)" = 10001 && touch /data/.smoke && ! touch /app/x 2>/dev/null && ! touch /usr/x 2>/dev/null' \
  || fail "api: wrong user, /data not writable, or the root writable"

# A small photo, made with the image's own Pillow: a grey gradient with scratches.
docker run --rm "$IMAGE" python -c "
import io, sys
from PIL import Image, ImageDraw
im = Image.linear_gradient('L').resize((640, 480)).convert('RGB')
d = ImageDraw.Draw(im)
for x in range(40, 600, 90): d.line([(x, 0), (x + 60, 479)], fill=(250, 250, 250), width=2)
buf = io.BytesIO(); im.save(buf, 'PNG'); sys.stdout.buffer.write(buf.getvalue())" >"$WORK/photo.png"

json_get() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]] or "")' "$1"; }
# token (once) -> upload -> restore -> follow to ready -> download via the published S3 URL.
restore_round() {
  local label=$1 t0 photo url status
  t0=$(now)
  photo=$(curl -sf -H "$AUTH" -F "file=@$WORK/photo.png" "$API/photos" | json_get id) \
    || fail "$label: upload"
  curl -sf -X POST -H "$AUTH" -H 'Content-Type: application/json' -d '{"denoise": 0.5}' \
    "$API/photos/$photo/restore" >/dev/null || fail "$label: restore request"
  for _ in $(seq 600); do
    status=$(curl -sf -H "$AUTH" "$API/photos/$photo" | json_get status) || fail "$label: status"
    [ "$status" = ready ] && break
    [ "$status" = failed ] && fail "$label: the restoration failed"
    sleep 0.5
  done
  [ "$status" = ready ] || fail "$label: not ready after 300 s (status $status)"
  url=$(curl -sf -H "$AUTH" "$API/photos/$photo" | json_get processed_url)
  case "$url" in "http://127.0.0.1:$S3_PORT/"*) ;; *) fail "$label: download URL not on the published S3 port: $url" ;; esac
  curl -sf -o "$WORK/restored.jpg" "$url" || fail "$label: download through $url"
  python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.exit(0 if d[:3] == b"\xff\xd8\xff" and len(d) > 1000 else 1)' \
    "$WORK/restored.jpg" || fail "$label: the download is not a JPEG"
  LAST_PHOTO=$photo
  LAST_SECONDS=$(since "$t0")
  echo "$label: photo $photo ready and downloaded in $LAST_SECONDS s"
}

log "token, upload, restore, follow to ready, download"
TOKEN=$(compose exec -T api rekindle token create --user smoke --email smoke@example.com | tail -n 1)
AUTH="Authorization: Bearer $TOKEN"
restore_round "first restore"
FIG[restore]=$LAST_SECONDS
FIRST_PHOTO=$LAST_PHOTO

log "--scale worker=2"
compose up -d --scale worker=2 --no-recreate 2>&1 | tail -n 2
wait_healthy 2 worker
[ "$(compose ps -q worker | wc -l)" -eq 2 ] || fail "not 2 worker containers"
restore_round "restore with 2 workers"

log "down, then up: the data stays"
compose exec -T redis sh -c 'ls /data/appendonlydir/*.aof >/dev/null' || fail "Redis keeps no append-only file"
compose down --timeout 30 2>&1 | tail -n 1
t=$(now)
compose up -d 2>&1 | tail -n 1
wait_healthy 3 "${APP_SERVICES[@]}"
FIG[healthy_again]=$(since "$t")
# The same token (local issuer's secret in the rekindle-data volume) still reads the first photo
# (its row in the postgres-data volume), still ready.
[ "$(curl -sf -H "$AUTH" "$API/photos/$FIRST_PHOTO" | json_get status)" = ready ] \
  || fail "the first photo or the token did not survive down + up"
restore_round "restore after down + up"

log "all services healthy"
for svc in postgres redis minio api worker-beat worker; do
  for id in $(compose ps -q "$svc"); do
    st=$(docker inspect -f '{{.State.Health.Status}}' "$id")
    echo "$svc: $st"
    [ "$st" = healthy ] || fail "$svc is $st"
  done
done

log "clean-up"
compose down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1
COMPOSE_UP=
left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"; docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT")
[ -z "$left" ] || fail "left behind: $left"

cat <<EOF

==> smoke test passed: dockerd $DOCKER_VERSION, compose $COMPOSE_VERSION, base $BASE_IMAGE (local)
figure                                   value
base image (debootstrap + import)        ${FIG[base]}
build, cold (empty build cache)          ${FIG[cold]} s
build, warm (nothing changed)            ${FIG[warm]} s
build, after a one-line source edit      ${FIG[edit]} s (new layers: ${FIG[edit_layers]})
image size                               ${FIG[size]} (dependency layer ${FIG[deps_layer]})
compose up -> api + workers healthy      ${FIG[healthy]} s (after down + up: ${FIG[healthy_again]} s)
end-to-end restore (upload -> download)  ${FIG[restore]} s
EOF
exit 0
}
