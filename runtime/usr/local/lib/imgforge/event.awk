# One event as a JSON line (src/protocol/events.ts) from EV_* environment variables: awk reads
# them through ENVIRON, where no escape sequence is processed (awk -v would eat backslashes).
# Strings are escaped per RFC 8259 §7; other control characters are dropped.
function str(s) {
  gsub(/\\/, "&&", s)
  gsub(/"/, "\\\"", s)
  gsub(/\t/, "\\t", s)
  gsub(/\r/, "\\r", s)
  gsub(/\n/, "\\n", s)
  gsub(/[\001-\037]/, "", s)
  return "\"" s "\""
}
BEGIN {
  e = ENVIRON["EV_UP"]
  if (e !~ /^[0-9]+(\.[0-9]+)?$/) e = "0"
  out = "{\"v\":1,\"node\":" str(ENVIRON["EV_NODE"]) ",\"boot\":" str(ENVIRON["EV_BOOT"]) \
    ",\"stage\":" str(ENVIRON["EV_STAGE"]) ",\"state\":" str(ENVIRON["EV_STATE"]) \
    ",\"time\":" str(ENVIRON["EV_TIME"]) ",\"up\":" e
  if (ENVIRON["EV_MSG"] != "") out = out ",\"msg\":" str(ENVIRON["EV_MSG"])
  if (ENVIRON["EV_ATTEMPT"] ~ /^[1-9][0-9]*$/) out = out ",\"attempt\":" ENVIRON["EV_ATTEMPT"]
  if (ENVIRON["EV_CHANGED"] == "true" || ENVIRON["EV_CHANGED"] == "false") out = out ",\"changed\":" ENVIRON["EV_CHANGED"]
  if (ENVIRON["EV_FACT"] != "") {
    out = out ",\"fact\":" str(ENVIRON["EV_FACT"]) ",\"value\":["
    n = split(ENVIRON["EV_VALUE"], words, "\n")
    for (i = 1; i <= n; i++) out = out (i > 1 ? "," : "") str(words[i])
    out = out "]"
  }
  print out "}"
}
