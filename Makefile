# tund: build and install.
#
#   npm ci && make            # build (TypeScript; npm ci builds the addons)
#   make install              # as root: PREFIX=/usr/local by default; DESTDIR= for staging
#   make uninstall            # removes exactly what `make install` put there (install-manifest)
#
# Layout (PREFIX=/usr/local):
#   /usr/local/lib/tund/{package.json,bin,dist,native/build/Release/*.node,node_modules}   the app
#   /usr/local/bin/{tunctl,tund,tunauth,tunroute}  -> ../lib/tund/bin/*                   symlinks
#   /usr/local/lib/systemd/system/                 units (@BINDIR@ replaced by $(BINDIR));
#                                                  systemd searches this directory (and
#                                                  /usr/lib/systemd/system for PREFIX=/usr)
#   /usr/local/lib/sysusers.d/tund.conf            the system user "tund" the units run sessions
#                                                  as (units/tund.sysusers); without DESTDIR,
#                                                  install creates it (systemd-sysusers, else
#                                                  useradd) and keeps it on uninstall, as
#                                                  packages do: files may still belong to it
#   /usr/local/share/man/man{5,7,8}/               man pages from man/ (if any)
#   /usr/local/share/{bash-completion/completions,zsh/vendor-completions,fish/vendor_completions.d}
#
# `make install` does not build (it may run as root inside a sandbox on a shared tree): it fails
# with a hint when dist/ or an addon is missing.

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib/tund
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
NODE        ?= node

COMMANDS  := tunctl tund tunauth tunroute
UNITS     := $(wildcard units/*.service units/*.socket)
MANPAGES  := $(wildcard man/*.[578])
ADDONS    := native/build/Release/tund_native.node node_modules/sd-notify/build/Release/notify.node
MANIFEST  := $(LIBDIR)/install-manifest

.PHONY: all build install uninstall check-built units-check

all: build

build:
	npx --no-install tsc -p tsconfig.json

check-built:
	@for f in dist/commands/tund/index.js dist/commands/tunctl/index.js $(ADDONS); do \
	  [ -f "$$f" ] || { echo "make: $$f is missing (hint: run \"npm ci && make\" first)" >&2; exit 1; }; \
	done

# Everything below writes under $(DESTDIR). Each file and each directory that did not exist before
# is listed in $(MANIFEST) (paths without DESTDIR), so that uninstall removes exactly those.
install: check-built
	@set -eu; \
	D='$(DESTDIR)'; M=$$(mktemp); trap 'rm -f "$$M"' EXIT; \
	newdir() { _nd=$$1; _nl=""; while [ ! -d "$$D$$_nd" ]; do _nl="$$_nd $$_nl"; _nd=$$(dirname "$$_nd"); done; \
	  for _nx in $$_nl; do mkdir -m 0755 "$$D$$_nx"; echo "dir $$_nx" >>"$$M"; done; }; \
	file() { echo "file $$1" >>"$$M"; }; \
	newdir '$(LIBDIR)'; \
	echo "install: app tree in $$D$(LIBDIR)"; \
	rm -rf "$$D$(LIBDIR)/dist" "$$D$(LIBDIR)/node_modules" "$$D$(LIBDIR)/native" "$$D$(LIBDIR)/bin"; \
	install -m 0644 package.json "$$D$(LIBDIR)/package.json"; \
	mkdir -p "$$D$(LIBDIR)/dist" "$$D$(LIBDIR)/bin" "$$D$(LIBDIR)/native/build/Release" "$$D$(LIBDIR)/node_modules"; \
	for d in commands core native; do [ -d "dist/$$d" ] && cp -R "dist/$$d" "$$D$(LIBDIR)/dist/"; done; \
	find "$$D$(LIBDIR)/dist" -name '*.map' -delete; \
	install -m 0644 native/build/Release/*.node "$$D$(LIBDIR)/native/build/Release/"; \
	for c in $(COMMANDS); do install -m 0755 "bin/$$c" "$$D$(LIBDIR)/bin/$$c"; done; \
	$(NODE) -e 'const l=require("./package-lock.json"); for (const [k,v] of Object.entries(l.packages)) if (k && !v.dev && !v.link && k.split("node_modules/").length===2) console.log(k)' \
	  | while read -r m; do mkdir -p "$$D$(LIBDIR)/$$(dirname "$$m")"; cp -R "$$m" "$$D$(LIBDIR)/$$m"; done; \
	chmod -R u=rwX,go=rX "$$D$(LIBDIR)"; \
	echo "install: commands in $$D$(BINDIR)"; newdir '$(BINDIR)'; \
	for c in $(COMMANDS); do ln -sfn "$$(realpath -m --relative-to='$(BINDIR)' '$(LIBDIR)')/bin/$$c" "$$D$(BINDIR)/$$c"; file "$(BINDIR)/$$c"; done; \
	echo "install: units in $$D$(UNITDIR)"; newdir '$(UNITDIR)'; \
	for u in $(UNITS); do b=$$(basename "$$u"); \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' "$$u" >"$$D$(UNITDIR)/$$b"; chmod 0644 "$$D$(UNITDIR)/$$b"; file "$(UNITDIR)/$$b"; done; \
	if [ -f units/tund-inetd.socket ]; then ln -sfn tund-inetd.socket "$$D$(UNITDIR)/tund.socket"; file "$(UNITDIR)/tund.socket"; fi; \
	echo "install: system user tund ($$D$(SYSUSERSDIR)/tund.conf)"; newdir '$(SYSUSERSDIR)'; \
	install -m 0644 units/tund.sysusers "$$D$(SYSUSERSDIR)/tund.conf"; file "$(SYSUSERSDIR)/tund.conf"; \
	if [ -z "$$D" ] && ! getent passwd tund >/dev/null; then \
	  if command -v systemd-sysusers >/dev/null; then systemd-sysusers "$(SYSUSERSDIR)/tund.conf"; \
	  else useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin --comment "tund VPN sessions" tund; fi; \
	fi; \
	for p in $(MANPAGES); do s=$${p##*.}; newdir "$(MANDIR)/man$$s"; \
	  install -m 0644 "$$p" "$$D$(MANDIR)/man$$s/$$(basename "$$p")"; file "$(MANDIR)/man$$s/$$(basename "$$p")"; done; \
	for c in $(COMMANDS); do \
	  if [ -f "completions/bash/$$c" ]; then newdir '$(BASHCOMPDIR)'; install -m 0644 "completions/bash/$$c" "$$D$(BASHCOMPDIR)/$$c"; file "$(BASHCOMPDIR)/$$c"; fi; \
	  if [ -f "completions/zsh/_$$c" ]; then newdir '$(ZSHCOMPDIR)'; install -m 0644 "completions/zsh/_$$c" "$$D$(ZSHCOMPDIR)/_$$c"; file "$(ZSHCOMPDIR)/_$$c"; fi; \
	  if [ -f "completions/fish/$$c.fish" ]; then newdir '$(FISHCOMPDIR)'; install -m 0644 "completions/fish/$$c.fish" "$$D$(FISHCOMPDIR)/$$c.fish"; file "$(FISHCOMPDIR)/$$c.fish"; fi; \
	done; \
	if [ -f "$$D$(MANIFEST)" ]; then cat "$$D$(MANIFEST)" >>"$$M"; fi; \
	sort -u "$$M" >"$$D$(MANIFEST)"; chmod 0644 "$$D$(MANIFEST)"; \
	if [ -z "$$D" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi; \
	echo "install: done (manifest $$D$(MANIFEST))"

# Removes every file in the manifest, the app tree, then the directories install created (if empty).
uninstall:
	@set -eu; D='$(DESTDIR)'; M="$$D$(MANIFEST)"; \
	if [ ! -f "$$M" ]; then echo "make: $$M not found: nothing installed with PREFIX=$(PREFIX)" >&2; exit 1; fi; \
	sed -n 's/^file //p' "$$M" | while read -r f; do rm -f "$$D$$f"; done; \
	dirs=$$(sed -n 's/^dir //p' "$$M" | awk '{ print length, $$0 }' | sort -rn | cut -d' ' -f2-); \
	rm -rf "$$D$(LIBDIR)"; \
	for d in $$dirs; do rmdir "$$D$$d" 2>/dev/null || true; done; \
	if [ -z "$$D" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi; \
	echo "uninstall: done"
