# berth-busybox: a busybox rootfs as a `docker save`-compatible archive, built without dockerd.
# shellcheck shell=bash

readonly CONTAINER_TAG="berth/busybox:test"
readonly CONTAINER_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# PID 1 in a container ignores signals it has no handler for: the trap makes `docker stop`
# end it at once; `sleep & wait` lets the trap run without waiting for the sleep to finish.
# Guest metadata busy=1 (env BERTH_META_BUSY=1; any other value is idle, as the VM guest's "1" test) spins one
# CPU in a background loop for the telemetry tests; it dies with PID 1, since the kernel kills a PID namespace's
# processes when its init ends.
readonly CONTAINER_CMD="trap 'exit 0' TERM INT; echo BERTH-CONTAINER-READY; \
if [ \"\${BERTH_META_BUSY:-}\" = 1 ]; then echo BERTH-BUSY on; while :; do :; done & fi; \
while :; do sleep 1 & wait \$!; done"
readonly EPOCH_ISO="1970-01-01T00:00:00Z"

container_key() {
  printf 'format=1 inputs=%s busybox-static=%s tar=%s' \
    "$(hash_inputs "${COMMON_INPUTS[@]}" lib/container.sh container)" \
    "$(pkg_version busybox-static)" "$(pkg_version tar)"
}

# Deterministic tar of the entries of directory $1 (no "./" prefix) into file $2.
det_tar() {
  local dir=$1 out=$2
  local -a entries
  mapfile -t entries < <(cd "$dir" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort)
  tar -C "$dir" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    --format=gnu -cf "$out" -- "${entries[@]}"
}

build_container() {
  local work=$1 root="$1/rootfs" arc="$1/archive" layer_sha cfg cfg_sha bb_ver
  bb_ver=$(pkg_version busybox-static)
  make_busybox_rootfs "$root" "$IMAGES_SRC/container/rootfs"
  epoch_tree "$root"

  mkdir -p "$arc"
  det_tar "$root" "$work/layer.tar"
  layer_sha=$(sha256_of "$work/layer.tar")
  mkdir -p "$arc/$layer_sha"
  mv "$work/layer.tar" "$arc/$layer_sha/layer.tar"
  printf '1.0' >"$arc/$layer_sha/VERSION"

  cfg="$work/config.json"
  {
    printf '{"architecture":"amd64","os":"linux","created":%s,' "$(json_str "$EPOCH_ISO")"
    printf '"config":{"Env":[%s],' "$(json_str "PATH=$CONTAINER_PATH")"
    printf '"Cmd":["/bin/sh","-c",%s],"WorkingDir":"/",' "$(json_str "$CONTAINER_CMD")"
    printf '"Labels":{"org.berth.image":"berth-busybox"}},'
    printf '"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},' "$layer_sha"
    printf '"history":[{"created":%s,"created_by":%s}]}' "$(json_str "$EPOCH_ISO")" \
      "$(json_str "berth images/build.sh from busybox-static $bb_ver")"
  } >"$cfg"
  cfg_sha=$(sha256_of "$cfg")
  mv "$cfg" "$arc/$cfg_sha.json"
  # Legacy per-layer json (docker load ignores it when manifest.json is present, older tools want it).
  printf '{"id":"%s","created":%s,"os":"linux","architecture":"amd64"}' "$layer_sha" "$(json_str "$EPOCH_ISO")" \
    >"$arc/$layer_sha/json"

  printf '[{"Config":"%s.json","RepoTags":[%s],"Layers":["%s/layer.tar"]}]' \
    "$cfg_sha" "$(json_str "$CONTAINER_TAG")" "$layer_sha" >"$arc/manifest.json"
  printf '{"%s":{"%s":"%s"}}' "${CONTAINER_TAG%%:*}" "${CONTAINER_TAG##*:}" "$layer_sha" >"$arc/repositories"
  epoch_tree "$arc"
  det_tar "$arc" "$work/berth-busybox.tar"
  publish "$work/berth-busybox.tar" berth-busybox.tar
  log "built berth-busybox.tar ($CONTAINER_TAG, image id sha256:$cfg_sha)"
}

# Load and run the archive when dockerd answers; skip otherwise (it need not be up at build time).
verify_container() {
  local tar="$OUT/berth-busybox.tar" had_image=0 cid out t0 t1 rc=0
  if ! command -v docker >/dev/null 2>&1 || ! timeout 5 docker info >/dev/null 2>&1; then
    log "dockerd not running: skipped docker verification of berth-busybox"
    return 0
  fi
  timeout 20 docker image inspect "$CONTAINER_TAG" >/dev/null 2>&1 && had_image=1
  timeout 60 docker load -i "$tar" >/dev/null || die "docker load -i $tar failed"
  out=$(timeout 60 docker run --rm --network none "$CONTAINER_TAG" /bin/sh -c 'echo hi') || rc=$?
  [[ $rc == 0 && $out == hi ]] || die "docker run of $CONTAINER_TAG printed '$out' (rc $rc), expected 'hi'"
  cid=$(timeout 60 docker run -d --network none "$CONTAINER_TAG") || die "docker run -d $CONTAINER_TAG failed"
  local ok=0
  for _ in $(seq 1 50); do
    if timeout 10 docker logs "$cid" 2>&1 | grep -q BERTH-CONTAINER-READY; then ok=1; break; fi
    sleep 0.1
  done
  t0=$(date +%s%N)
  timeout 30 docker stop -t 5 "$cid" >/dev/null || rc=$?
  t1=$(date +%s%N)
  local code
  code=$(timeout 10 docker inspect -f '{{.State.ExitCode}}' "$cid" 2>/dev/null || echo '?')
  timeout 30 docker rm -f "$cid" >/dev/null 2>&1 || true
  if [[ $had_image == 0 ]]; then timeout 30 docker rmi "$CONTAINER_TAG" >/dev/null 2>&1 || true; fi
  [[ $ok == 1 ]] || die "container log of $CONTAINER_TAG never showed BERTH-CONTAINER-READY"
  [[ $rc == 0 && $code == 0 ]] || die "docker stop of $CONTAINER_TAG failed (rc $rc, exit code $code)"
  log "verified berth-busybox with docker: load, run, marker, stop in $(( (t1 - t0) / 1000000 )) ms (exit $code)"
}
