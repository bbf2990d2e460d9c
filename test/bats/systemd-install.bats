#!/usr/bin/env bats
# make install / make uninstall into a DESTDIR staging tree (no root filesystem touched): the app
# tree, the command symlinks, the units with @BINDIR@ replaced, man pages and completions when the
# repo has them, installed commands that run from any directory, and an uninstall that removes
# exactly what install created. (The real install, inside a systemd, is in systemd.bats.)

load ../helpers/common

setup() {
  STAGE=$BATS_TEST_TMPDIR/stage
  mkdir -p "$STAGE"
}

stage_install() { # extra make arguments...
  flock -w 600 /tmp/tund-native.lock make -s -C "$PROJECT_ROOT" install DESTDIR="$STAGE" "$@"
}

@test "make install DESTDIR= PREFIX=/usr/local: app tree, symlinks, units with the bindir" {
  run stage_install PREFIX=/usr/local
  assert_success
  L=$STAGE/usr/local/lib/tund
  for f in package.json dist/commands/tund/index.js dist/commands/tunctl/index.js native/build/Release/tund_native.node \
    node_modules/sd-notify/build/Release/notify.node node_modules/clipanion/package.json node_modules/typanion/package.json; do
    [ -f "$L/$f" ] || fail "missing $L/$f"
  done
  # production dependencies only (and no execa: child processes use node:child_process)
  [ ! -e "$L/node_modules/execa" ]
  [ ! -e "$L/node_modules/typescript" ]
  [ ! -e "$L/node_modules/bats" ]
  [ ! -e "$L/dist/test" ]
  for c in tunctl tund tunauth tunroute; do
    [ -L "$STAGE/usr/local/bin/$c" ]
    assert_equal "$(readlink "$STAGE/usr/local/bin/$c")" "../lib/tund/bin/$c"
    [ -x "$L/bin/$c" ]
  done
  U=$STAGE/usr/local/lib/systemd/system
  for u in tund@.service tund-dns@.service tund-inetd.socket tund-inetd.service tund-listen@.socket; do [ -f "$U/$u" ]; done
  assert_equal "$(readlink "$U/tund.socket")" tund-inetd.socket
  run grep -h '^Exec' "$U/tund@.service" "$U/tund-inetd.service" "$U/tund-dns@.service"
  assert_line 'ExecStart=/usr/local/bin/tund --instance %i'
  assert_line 'ExecStartPre=-+/usr/local/bin/tunroute cleanup %i'
  assert_line 'ExecStartPost=+/usr/local/bin/tunroute dns %i'
  assert_line 'ExecStart=/usr/local/bin/tunroute dns %i --follow'
  assert_line 'ExecStopPost=-+/usr/local/bin/tunroute cleanup %i'
  assert_line 'ExecStart=/usr/local/bin/tund serve'
  run grep -rl '@BINDIR@' "$U"
  assert_failure
  # the system user the units run as: a sysusers.d file; with DESTDIR nobody is created on the host
  run grep -v '^#' "$STAGE/usr/local/lib/sysusers.d/tund.conf"
  assert_output 'u tund - "tund VPN sessions" - -'
  run grep -h '^User=' "$U/tund@.service" "$U/tund-inetd.service" "$U/tund-dns@.service"
  assert_output $'User=tund\nUser=tund'
  # man pages and completions that the repo has are installed where man and the shells look
  for p in "$PROJECT_ROOT"/man/*.[578]; do
    [ -e "$p" ] || continue
    s=${p##*.}
    [ -f "$STAGE/usr/local/share/man/man$s/$(basename "$p")" ] || fail "man page $p not installed"
  done
  for c in tunctl tund tunauth tunroute; do
    [ ! -f "$PROJECT_ROOT/completions/bash/$c" ] || [ -f "$STAGE/usr/local/share/bash-completion/completions/$c" ]
    [ ! -f "$PROJECT_ROOT/completions/zsh/_$c" ] || [ -f "$STAGE/usr/local/share/zsh/vendor-completions/_$c" ]
    [ ! -f "$PROJECT_ROOT/completions/fish/$c.fish" ] || [ -f "$STAGE/usr/local/share/fish/vendor_completions.d/$c.fish" ]
  done
}

@test "installed commands run from any directory, without the repo's node_modules" {
  stage_install PREFIX=/usr/local
  # run a copy of the staged tree from elsewhere, so nothing resolves back into the repo
  cd /
  run env -u TUND_CONFIG_DIR PATH=/usr/bin:/bin "$STAGE/usr/local/bin/tunctl" --version
  assert_success
  assert_output --regexp '^[0-9]+\.[0-9]+\.[0-9]+'
  run env PATH=/usr/bin:/bin "$STAGE/usr/local/bin/tund" --help
  assert_success
  run env PATH=/usr/bin:/bin TUND_RUN_DIR="$BATS_TEST_TMPDIR/empty-run" "$STAGE/usr/local/bin/tunctl" status
  assert_failure 3
  # the sd-notify addon loads from the installed tree
  run node -e "require('$STAGE/usr/local/lib/tund/node_modules/sd-notify'); console.log('ok')"
  assert_output ok
}

@test "make uninstall removes exactly what install created (manifest), and keeps what was there" {
  mkdir -p "$STAGE/usr/local/bin" "$STAGE/usr/local/share/man/man8"
  echo keep >"$STAGE/usr/local/bin/other-tool"
  echo keep >"$STAGE/usr/local/share/man/man8/other.8"
  stage_install PREFIX=/usr/local
  [ -f "$STAGE/usr/local/lib/tund/install-manifest" ]
  # a second install over the first is fine and keeps one manifest
  stage_install PREFIX=/usr/local
  run make -s -C "$PROJECT_ROOT" uninstall DESTDIR="$STAGE" PREFIX=/usr/local
  assert_success
  run sh -c "find '$STAGE' -mindepth 1 \( -type f -o -type l \) -printf '%P\\n' | sort"
  assert_output "$(printf 'usr/local/bin/other-tool\nusr/local/share/man/man8/other.8' | sort)"
  # directories install created are gone, the ones that were there stay
  [ ! -e "$STAGE/usr/local/lib" ]
  [ -d "$STAGE/usr/local/share/man/man8" ]
  run make -s -C "$PROJECT_ROOT" uninstall DESTDIR="$STAGE" PREFIX=/usr/local
  assert_failure
}

@test "PREFIX=/usr puts units in /usr/lib/systemd/system and points them at /usr/bin" {
  stage_install PREFIX=/usr
  run grep -h '^ExecStart=' "$STAGE/usr/lib/systemd/system/tund@.service"
  assert_output 'ExecStart=/usr/bin/tund --instance %i'
  [ -L "$STAGE/usr/bin/tund" ]
  assert_equal "$(readlink "$STAGE/usr/bin/tund")" ../lib/tund/bin/tund
}
