# Flattens JSON into one "path=value" line per scalar (busybox awk; the guest has no jq):
#   {"links":[{"id":"tap1","mtu":1450}],"meta":{"a":"b"}}  ->  links.0.id=tap1  links.0.mtu=1450  meta.a=b
# Tolerant of any whitespace; strings keep their text (\" \\ \/ \t \n unescaped, newlines become
# spaces, \uXXXX left as is); null, true, false and numbers are printed as written.
function path(d,    p, k) {
  p = ""
  for (k = 1; k <= d; k++) p = p (k > 1 ? "." : "") key[k]
  return p
}
function emit(v) {
  if (depth > 0 && type[depth] == "a") key[depth] = idx[depth]
  gsub(/\n/, " ", v)
  print path(depth) "=" v
}
{ s = s $0 "\n" }
END {
  n = length(s); i = 1; depth = 0
  while (i <= n) {
    c = substr(s, i, 1)
    if (c == "{" || c == "[") {
      if (depth > 0 && type[depth] == "a") key[depth] = idx[depth]
      depth++; type[depth] = (c == "{") ? "o" : "a"; idx[depth] = 0; want_key[depth] = (c == "{"); i++
    } else if (c == "}" || c == "]") {
      depth--; i++
    } else if (c == ",") {
      if (type[depth] == "o") want_key[depth] = 1; else idx[depth]++
      i++
    } else if (c == "\"") {
      v = ""; i++
      while (i <= n) {
        c = substr(s, i, 1)
        if (c == "\\") {
          e = substr(s, i + 1, 1); i += 2
          if (e == "n" || e == "t" || e == "r") v = v " "
          else if (e == "u") v = v "\\u"
          else v = v e
        } else if (c == "\"") { i++; break }
        else { v = v c; i++ }
      }
      if (depth > 0 && type[depth] == "o" && want_key[depth]) { key[depth] = v; want_key[depth] = 0 }
      else emit(v)
    } else if (c ~ /[-0-9a-zA-Z.+]/) {
      v = ""
      while (i <= n && substr(s, i, 1) ~ /[-0-9a-zA-Z.+]/) { v = v substr(s, i, 1); i++ }
      emit(v)
    } else {
      i++   # whitespace and ':'
    }
  }
}
