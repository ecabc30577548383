# Every target bootstraps .venv by itself: a fresh clone needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test hunt lint bench clean install-base install-package install-service install-gpio-access install-poller install-poller-hub mosquitto chromium

$(VENV)/.stamp: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint]'
	touch $@

# make run serves the web face too: run.toml plus [http] enabled (var/run.toml). The
# login token is made at the first run only (`web-token --if-none`: later runs keep
# it, so a login lasts across restarts) and never while a raspyd runs on var/raspy (a
# second `make run` must not log out the first one's browsers). PORT_BASE moves every
# port: MDP on it, Clone on the next three, the web face on PORT_BASE + 4; checked
# before any token is made, up to what raspyd takes with the web face on.
PORT_BASE ?= 5514
MAX_PORT_BASE = 65531
TOKEN_CMD = $(VENV)/bin/raspy web-token --data-dir var/raspy
run: $(VENV)/.stamp
	@case "$(PORT_BASE)" in ''|0*|*[!0-9]*) \
	  echo "make run: PORT_BASE: expected a port number, got '$(PORT_BASE)'" >&2; exit 2;; esac
	@case "$(PORT_BASE)" in ??????*) false;; *) [ "$(PORT_BASE)" -le $(MAX_PORT_BASE) ];; esac || { \
	  echo "make run: PORT_BASE: expected 1..$(MAX_PORT_BASE) (the web face listens on PORT_BASE + 4), got '$(PORT_BASE)'" >&2; exit 2; }
	@mkdir -p var && cat raspy/defaults/run.toml > var/run.toml && \
	  printf '\n[http]\nenabled = true\n' >> var/run.toml
	@token=$$($(TOKEN_CMD) --if-none) || exit $$?; \
	  web="http://127.0.0.1:$$(($(PORT_BASE) + 4))/"; \
	  if [ -n "$$token" ]; then \
	    echo "raspy web face: $$web - log in with the token $$token"; \
	    echo "(it stays valid across restarts; a new one, which logs every browser out: $(TOKEN_CMD))"; \
	  else \
	    echo "raspy web face: $$web - log in with the token the last make run (or raspy web-token) printed: it still works"; \
	    echo "(lost it? $(TOKEN_CMD) makes a new one and logs every browser out)"; \
	  fi
	$(VENV)/bin/raspyd --data-dir var/raspy --port-base $(PORT_BASE) --config var/run.toml --log-format console $(if $(filter 0,$(shell id -u)),--allow-root,)

# The MQTT bridge's tests start a real Mosquitto (Debian package `mosquitto`).
mosquitto:
	@if [ ! -x /usr/sbin/mosquitto ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto >/dev/null \
			|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto >/dev/null; }; \
		else \
			echo "make: the MQTT tests need Mosquitto: sudo apt-get install mosquitto" >&2; exit 2; \
		fi; \
	fi

# The suite mostly waits (daemons starting, kill loops), so it runs on more workers
# than cores: whole files per worker, in the order tests/conftest.py gives (files
# with the longest tests first). Six were faster but showed timing races in the e2e
# files on a 2-core CI (docs/PERFORMANCE.md, "Six workers"). TEST_WORKERS=0 runs it
# in this one process.
TEST_WORKERS ?= 4
test: $(VENV)/.stamp mosquitto chromium
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The property tests with fresh draws, HUNT_EXAMPLES (2000) each, a test's own count
# raised too, instead of the suite's fixed ones: a search for what the fixed draws
# miss, not a gate for CI. Each test may take HUNT_TIMEOUT_S (its own mark raised).
HUNT_EXAMPLES ?= 2000
HUNT_TIMEOUT_S ?= 1800
hunt: $(VENV)/.stamp
	HYPOTHESIS_PROFILE=hunt HUNT_EXAMPLES=$(HUNT_EXAMPLES) HUNT_TIMEOUT_S=$(HUNT_TIMEOUT_S) \
	  $(PY) -m pytest -q -n $(TEST_WORKERS) -p no:cacheprovider --timeout $(HUNT_TIMEOUT_S) \
	  $$(grep -rlE --include='test_*.py' '@given|RuleBasedStateMachine' tests) $(PYTEST_ARGS)

# The browser tests drive Debian's chromium (Playwright never downloads one): as root
# it is installed when missing (bounded, non-interactive); otherwise we say how.
APT_TIMEOUT ?= 900
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "make: installing Debian's chromium for the browser tests"; \
	    timeout $(APT_TIMEOUT) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive timeout $(APT_TIMEOUT) apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "make: the browser tests need Debian's chromium; run: sudo apt-get install chromium" >&2; \
	    exit 1; \
	  fi; }

lint: $(VENV)/.stamp
	$(PY) -m ruff format --check . && $(PY) -m ruff check .
	rm -rf .typecheck && mkdir -p .typecheck/raspy
	for p in raspy/* actors storage; do ln -s "$$PWD/$$p" .typecheck/raspy/; done
	$(PY) -m mypy && $(PY) -m mypy tests

bench: $(VENV)/.stamp
	$(PY) tools/bench_mdp.py
	$(PY) tools/bench_store.py
	$(PY) tools/bench_clone.py
	$(PY) tools/bench_devices.py
	$(PY) tools/bench_core.py

clean:
	rm -rf $(VENV) .typecheck .hypothesis build *.egg-info var

# Production install on a Pi (as root): raspy into $(PREFIX) (its own venv), the
# `raspy` system user, /etc/raspy/raspyd.toml (kept if it exists; root's, read by
# raspyd through the raspy group, 0640: it may hold the MQTT password), the systemd unit
# (Type=notify, watchdog, hardening), enabled and started. State: /var/lib/raspy.
# Also the daily backup (raspy-backup.timer and .service: `raspy-kv backup`, the last
# 7 kept in /var/backups/raspy, made here, owner raspy, 0700), the timer enabled.
# An upgrade is `git pull && sudo make install-service`: raspyd is restarted, not just
# started (a start leaves a running raspyd on the old code, its files replaced under it).
# The unit files are written anew each time: a local change is a drop-in
# (`systemctl edit raspyd`), which is kept.
PREFIX ?= /opt/raspy
UNIT_DIR ?= /etc/systemd/system
# the backup unit names this directory; another one: `systemctl edit raspy-backup`
BACKUP_DIR = /var/backups/raspy
# What a hub and a second board share: the root check, raspy in $(PREFIX), the raspy
# user, /etc/raspy and the docs the units name.
install-base:
	@test "$$(id -u)" = 0 || { echo "make $(MAKECMDGOALS): run as root (sudo make $(MAKECMDGOALS))" >&2; exit 2; }
	@$(MAKE) --no-print-directory install-package
	getent group raspy >/dev/null || groupadd --system raspy
	id -u raspy >/dev/null 2>&1 || useradd --system --gid raspy --home-dir /var/lib/raspy --no-create-home --shell /usr/sbin/nologin raspy
	install -d -m 0755 /etc/raspy
	install -d -m 0755 $(PREFIX)/share/doc/raspy
	install -m 0644 $(STAGE)/docs/configuration.md $(PREFIX)/share/doc/raspy/configuration.md
	install -m 0644 $(STAGE)/docs/recovery.md $(PREFIX)/share/doc/raspy/recovery.md

# What is installed, staged in $(STAGE), made anew at each install (tools/
# stage_source.sh): the clone's last commit (git archive HEAD; changes not committed
# are named on stderr, not installed), or without .git (a ZIP download) the files as
# they are. The package, the units, the config and the docs all come from it, never
# from the clone: a build in the clone (`pip install .` as root) left build/ and
# *.egg-info there, root's, and the next install took the stale build/lib back in.
STAGE = $(PREFIX)/share/raspy/source
install-package:
	$(PYTHON) -m venv $(PREFIX)
	sh tools/stage_source.sh $(CURDIR) $(STAGE)
	$(PREFIX)/bin/pip install --quiet $(STAGE)

# raspyd's working directory (the unit's RuntimeDirectory): the config is checked
# there, so that a relative path in it is looked for where raspyd will look; and as
# the raspy user (runuser, util-linux, in every Debian), so that a file named in it
# that raspy may not read (a root-only password file) fails here, not at each start.
RUN_DIR = /run/raspy
install-service: install-base
	test -e /etc/raspy/raspyd.toml || install -m 0640 -o root -g raspy $(STAGE)/raspy/defaults/raspyd.toml /etc/raspy/raspyd.toml
	sed 's#/opt/raspy#$(PREFIX)#g' $(STAGE)/raspy/defaults/raspyd.service > $(UNIT_DIR)/raspyd.service
	@$(MAKE) --no-print-directory install-gpio-access DEFAULTS=$(STAGE)/raspy/defaults
	sed 's#/opt/raspy#$(PREFIX)#g' $(STAGE)/raspy/defaults/raspy-backup.service > $(UNIT_DIR)/raspy-backup.service
	sed 's#/opt/raspy#$(PREFIX)#g' $(STAGE)/raspy/defaults/raspy-backup.timer > $(UNIT_DIR)/raspy-backup.timer
	install -d -m 0700 -o raspy -g raspy $(BACKUP_DIR)
	install -d -m 0700 -o raspy -g raspy $(RUN_DIR)
	cd $(RUN_DIR) && runuser -u raspy -- $(PREFIX)/bin/raspyd --check-config /etc/raspy/raspyd.toml
	systemctl daemon-reload
	systemctl enable raspyd.service
	systemctl restart raspyd.service
	systemctl enable --now raspy-backup.timer
	@echo "raspyd installed: systemctl status raspyd; journalctl -u raspyd -f"
	@echo "daily backups in $(BACKUP_DIR): systemctl list-timers raspy-backup; journalctl -u raspy-backup"

# GPIO (part of install-service, after the raspy user and the unit): where a `gpio`
# group exists (Raspberry Pi OS: it owns /dev/gpiochip*), raspy joins it and the drop-in
# raspyd.service.d/gpio.conf gives the unit the group and the gpiochip devices.
# Elsewhere none, and an earlier one goes: a SupplementaryGroups= naming a group that
# does not exist keeps the unit from starting.
GPIO_DROPIN = $(UNIT_DIR)/raspyd.service.d/gpio.conf
DEFAULTS ?= raspy/defaults
install-gpio-access:
	@if getent group gpio >/dev/null; then \
	    usermod --append --groups gpio raspy \
	    && install -d -m 0755 $(UNIT_DIR)/raspyd.service.d \
	    && install -m 0644 $(DEFAULTS)/raspyd-gpio.conf $(GPIO_DROPIN) \
	    && echo "GPIO: raspy is in the gpio group, and $(GPIO_DROPIN) gives raspyd /dev/gpiochip*"; \
	else \
	    rm -f $(GPIO_DROPIN) \
	    && echo "GPIO: no gpio group on this machine: raspyd gets no GPIO access (README, GPIO on a Raspberry Pi)"; \
	fi

# A second board (as root): raspy-poller as raspy-poller.service (Type=notify, watchdog,
# hardening; state, the device settings changed over MDP, in /var/lib/raspy-poller),
# /etc/raspy/raspy-poller.env (the hub and the service, from HUB= and SERVICE=) and
# /etc/raspy/raspy-poller.toml, each kept if it exists; enabled and (re)started.
#   sudo make install-poller HUB=tcp://hub.local:5514 [SERVICE=onewire]
SERVICE ?= onewire
POLLER_ENV = /etc/raspy/raspy-poller.env
install-poller-hub:
	@test -n "$(HUB)" -o -e $(POLLER_ENV) || { echo "make install-poller: name the hub: sudo make install-poller HUB=tcp://HUB:5514 [SERVICE=onewire]" >&2; exit 2; }

install-poller: install-poller-hub install-base
	test -e $(POLLER_ENV) || sed -e 's#^RASPY_HUB=.*#RASPY_HUB=$(HUB)#' -e 's#^RASPY_SERVICE=.*#RASPY_SERVICE=$(SERVICE)#' $(STAGE)/raspy/defaults/raspy-poller.env > $(POLLER_ENV)
	test -e /etc/raspy/raspy-poller.toml || install -m 0644 $(STAGE)/raspy/defaults/raspy-poller.toml /etc/raspy/raspy-poller.toml
	sed 's#/opt/raspy#$(PREFIX)#g' $(STAGE)/raspy/defaults/raspy-poller.service > $(UNIT_DIR)/raspy-poller.service
	systemctl daemon-reload
	systemctl enable raspy-poller.service
	systemctl restart raspy-poller.service
	@echo "raspy-poller installed: systemctl status raspy-poller; journalctl -u raspy-poller -f"
	@echo "its hub and service: $(POLLER_ENV) (then systemctl restart raspy-poller)"
