# shellcheck shell=sh
# shellcheck disable=SC2034 # CHECK_MSG is read by run-stage, which sources this file.
# shellcheck disable=SC2154 # IMGFORGE_* come from node.env, which is node.json (stages) as variables.
# Stage "complete": runs once every other stage has ended, whatever its result, and cloud-init
# has finished (its unit Wants= them and is After= them). Its ok or fail event is the node's
# verdict on this boot; it never changes the machine.

stage_check() {
  c_i=0 c_failed="" c_count=0
  while [ "$c_i" -lt "${IMGFORGE_STAGES_COUNT:-0}" ]; do
    c_name=$(nth STAGES "$c_i" NAME)
    c_i=$((c_i + 1))
    [ "$c_name" != complete ] || continue
    c_count=$((c_count + 1))
    # ActiveState=active with Result=success: it ran to the end in this boot (RemainAfterExit=yes).
    c_show=$(systemctl show -p ActiveState -p Result "imgforge-$c_name.service" 2>/dev/null | sort | tr '\n' ' ')
    [ "$c_show" = "ActiveState=active Result=success " ] || c_failed="$c_failed $c_name (${c_show% })"
  done
  if [ -n "$c_failed" ]; then
    CHECK_MSG="failed or not run:$c_failed"
    return 1
  fi
  CHECK_MSG="all $c_count stages succeeded"
}

stage_apply() {
  stage_check || fatal "$CHECK_MSG"
}
