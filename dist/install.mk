# `make install`: the API side (broadway-fcgi, broadway-sse,
# broadway-admin, their units, the nginx site, the migrations) and the
# worker (broadway-worker, its unit and configuration).  Included by
# the Makefile.  docs/deploy.md says what to do with each file.
#
#   make install [DESTDIR=/stage] [PREFIX=/usr/local] [SERVER_NAME=...]
#   make install-api | install-worker	one side only
#
# Files under SYSCONFDIR the operator edits (the nginx site, storage
# and the *.example copies' targets) are written only if missing.

PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
DATADIR		?= $(PREFIX)/share/broadway
UNITDIR		?= $(PREFIX)/lib/systemd/system
SYSCONFDIR	?= /etc
RUNDIR		?= /run
STATEDIR	?= /var/lib
# The API runs as this user; nginx's workers are in NGINX_GROUP.
BROADWAY_USER	?= broadway
BROADWAY_GROUP	?= $(BROADWAY_USER)
NGINX_GROUP	?= www-data
NGINX_LOG_DIR	?= /var/log/nginx
# The nginx site's settings.
LISTEN		?= 443
SERVER_NAME	?= grader.example.edu
TLS_CERT	?= $(SYSCONFDIR)/broadway/tls/server.crt
TLS_KEY		?= $(SYSCONFDIR)/broadway/tls/server.key
API_SOCKET	?= $(RUNDIR)/broadway-fcgi/api.sock
SSE_SOCKET	?= $(RUNDIR)/broadway-sse/sse.sock

D		 = $(DESTDIR)
ETC		 = $(D)$(SYSCONFDIR)/broadway
RENDER		 = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' \
		   -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@RUNDIR@|$(RUNDIR)|g' \
		   -e 's|@BROADWAY_USER@|$(BROADWAY_USER)|g' \
		   -e 's|@BROADWAY_GROUP@|$(BROADWAY_GROUP)|g' \
		   -e 's|@NGINX_GROUP@|$(NGINX_GROUP)|g' \
		   -e 's|@NGINX_LOG_DIR@|$(NGINX_LOG_DIR)|g' \
		   -e 's|@LISTEN@|$(LISTEN)|g' -e 's|@SERVER_NAME@|$(SERVER_NAME)|g' \
		   -e 's|@TLS_CERT@|$(TLS_CERT)|g' -e 's|@TLS_KEY@|$(TLS_KEY)|g' \
		   -e 's|@GRAPHROOT@|$(STATEDIR)/broadway-worker/storage|g' \
		   -e 's|@RUNROOT@|$(RUNDIR)/broadway-worker/storage|g' \
		   -e '/@HARDENING@/{r dist/systemd/api-hardening.conf' -e 'd;}'
# A placeholder left over (outside comments) fails the install.
LEFTOVER	 = grep -v '^[[:space:]]*\#' $(1) | grep -n '@[A-Z_]*@' && \
		   { echo "install: unsubstituted placeholder in $(1)" >&2; exit 1; } || :
# A file the operator owns: written only if it is not there yet.
KEEP		 = if [ -e $(2) ]; then echo "install: kept $(2)"; \
		   else install -m $(3) $(1) $(2); fi

.PHONY: install install-api install-worker install-common
install: install-api install-worker

install-common:
	install -d $(D)$(SBINDIR) $(D)$(MANDIR)/man8 $(D)$(DATADIR)/doc $(ETC)
	install -m 0644 docs/deploy.md $(D)$(DATADIR)/doc/deploy.md

install-api: $(BUILD)/broadway-fcgi $(BUILD)/broadway-sse $(BUILD)/broadway-admin install-common
	install -m 0755 $(BUILD)/broadway-fcgi $(BUILD)/broadway-sse \
	    $(BUILD)/broadway-admin $(D)$(SBINDIR)/
	install -m 0644 fcgi/admin/broadway-admin.8 $(D)$(MANDIR)/man8/
	install -d $(D)$(DATADIR)/sql $(D)$(DATADIR)/nginx $(D)$(UNITDIR) \
	    $(D)$(SYSCONFDIR)/nginx/sites-available
	install -m 0644 sql/*.sql $(D)$(DATADIR)/sql/
	@set -e; t=$$(mktemp); trap 'rm -f $$t' EXIT; \
	for u in broadway-fcgi broadway-sse; do \
		$(RENDER) dist/systemd/$$u.service.in >$$t; \
		$(call LEFTOVER,$$t); \
		install -m 0644 $$t $(D)$(UNITDIR)/$$u.service; \
	done; \
	sed -n '/# BEGIN broadway routes/,/# END broadway routes/{/# \(BEGIN\|END\) broadway routes/d;s/^\t//;p;}' \
	    nginx/broadway.conf.in | \
	    sed -e 's|unix:@RUN@/api.sock|unix:$(API_SOCKET)|' \
	    -e 's|unix:@RUN@/sse.sock|unix:$(SSE_SOCKET)|' >$$t; \
	grep -q 'location /api/v1/ ' $$t || { echo "install: no routes cut from nginx/broadway.conf.in" >&2; exit 1; }; \
	$(call LEFTOVER,$$t); \
	install -m 0644 $$t $(D)$(DATADIR)/nginx/broadway-routes.conf; \
	$(RENDER) dist/nginx-site.conf.in >$$t; \
	$(call LEFTOVER,$$t); \
	$(call KEEP,$$t,$(D)$(SYSCONFDIR)/nginx/sites-available/broadway,0644); \
	install -m 0644 dist/api.env.example $(ETC)/api.env.example

install-worker: $(BUILD)/broadway-worker install-common
	install -m 0755 $(BUILD)/broadway-worker $(D)$(SBINDIR)/
	install -m 0644 worker/broadway-worker.8 $(D)$(MANDIR)/man8/
	install -d $(D)$(UNITDIR)
	install -m 0644 worker/worker.conf.example worker/containers.conf $(ETC)/
	@set -e; t=$$(mktemp); trap 'rm -f $$t' EXIT; \
	$(RENDER) dist/systemd/broadway-worker.service.in >$$t; \
	$(call LEFTOVER,$$t); \
	install -m 0644 $$t $(D)$(UNITDIR)/broadway-worker.service; \
	$(RENDER) worker/storage.conf.in >$$t; \
	$(call LEFTOVER,$$t); \
	$(call KEEP,$$t,$(ETC)/storage.conf,0644)
