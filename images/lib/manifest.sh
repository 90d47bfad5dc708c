# Per-image manifests (<name>.json) and index.json, in Glance's vocabulary.
# "file" is relative to the directory holding the manifest.
# shellcheck shell=bash

# write_manifest NAME FILE DISK_FORMAT|null CONTAINER_FORMAT EXTRA_FIELDS PROPERTIES PKG=VERSION...
#   EXTRA_FIELDS: JSON members to add at top level ("" or '"a":1,"b":2')
#   PROPERTIES:   JSON members of "properties"
#   PKG=VERSION:  the exact Debian package versions the image was built from ("packages")
write_manifest() {
  local name=$1 file=$2 dfmt=$3 cfmt=$4 extra=$5 props=$6 sha size id df
  shift 6
  sha=$(sha256_of "$OUT/$file")
  size=$(stat -c %s "$OUT/$file")
  id=$(uuid_from_sha256 "$sha")
  if [[ $dfmt == null ]]; then df=null; else df=$(json_str "$dfmt"); fi
  {
    printf '{\n'
    printf '  "id": %s,\n' "$(json_str "$id")"
    printf '  "name": %s,\n' "$(json_str "$name")"
    printf '  "file": %s,\n' "$(json_str "$file")"
    printf '  "sha256": %s,\n' "$(json_str "$sha")"
    printf '  "size": %s,\n' "$size"
    printf '  "disk_format": %s,\n' "$df"
    printf '  "container_format": %s,\n' "$(json_str "$cfmt")"
    [[ -n $extra ]] && printf '  %s,\n' "$extra"
    printf '  %s,\n' "$(packages_field "$@")"
    printf '  "properties": {%s}\n' "$props"
    printf '}\n'
  } >"$OUT/.$name.json.tmp"
  mv -f "$OUT/.$name.json.tmp" "$OUT/$name.json"
}

# packages_field PKG=VERSION...: the "packages" member, on one line (print_packages reads it back without jq).
packages_field() {
  local kv first=1
  printf '"packages": {'
  for kv in "$@"; do
    [[ $first == 1 ]] || printf ', '
    first=0
    printf '%s: %s' "$(json_str "${kv%%=*}")" "$(json_str "${kv#*=}")"
  done
  printf '}'
}

# print_packages NAME: logs the image's id and the package versions its manifest records.
print_packages() {
  local line
  line=$(sed -n 's/^  "packages": {\(.*\)},\{0,1\}$/\1/p' "$OUT/$1.json")
  log "$1 $(manifest_id "$1") from ${line//\"/}"
}

# id field of an existing manifest.
manifest_id() { sed -n 's/^  "id": "\(.*\)",$/\1/p' "$OUT/$1.json"; }

# index.json: {"images": [ every manifest, sorted by name ]}; rewritten only when it changes.
write_index() {
  local tmp="$OUT/.index.json.tmp" first=1 name
  {
    printf '{\n  "images": [\n'
    for name in "$@"; do
      [[ $first == 1 ]] || printf ',\n'
      first=0
      printf '%s' "$(sed 's/^/    /' "$OUT/$name.json")"
    done
    printf '\n  ]\n}\n'
  } >"$tmp"
  if [[ -f $OUT/index.json ]] && cmp -s "$tmp" "$OUT/index.json"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$OUT/index.json"
  fi
}
