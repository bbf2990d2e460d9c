# shellcheck shell=bash
# DNS backends that record instead of setting anything, for sessions run by hand as root in tests
# (the host's resolver is never used, whatever the machine has). Load after common.bash.
#
# fake_dns_backends DIR: put DIR first in the session's PATH. A resolvconf that records what it is
# asked (DIR/resolvconf.log; the record of -a NAME.tund in DIR/NAME.tund, removed by -d) and refuses
# a record holding the text of DIR/refuse while that file exists; a resolvectl that never answers,
# so that a systemd-resolved of the host is never picked.
fake_dns_backends() {
  mkdir -p "$1"
  cat >"$1/resolvconf" <<STUB
#!/bin/sh
echo "\$*" >>"$1/resolvconf.log"
case "\$1" in
  -a)
    record=\$(cat)
    if [ -e "$1/refuse" ] && printf '%s' "\$record" | grep -qF "\$(cat "$1/refuse")"; then
      echo "resolvconf: refused by the test" >&2
      exit 1
    fi
    printf '%s\\n' "\$record" >"$1/\$2" ;;
  -d) rm -f "$1/\$2" ;;
esac
STUB
  printf '#!/bin/sh\nexit 1\n' >"$1/resolvectl"
  chmod 755 "$1/resolvconf" "$1/resolvectl"
}
