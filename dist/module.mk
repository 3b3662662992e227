# dist/ - what installs tcpmon: the shell completions' generator
# (completion/gen.sh), the systemd units (systemd/), and with debian/ the
# Debian package (`make deb`).  No program of its own.
# `make deb`: debhelper's build; debian/control's Build-Depends are the
# DEB_BUILD list's.
DEB_DEB += debhelper dpkg-dev fakeroot lintian
# tests/01-install.bats and tests/96-package.bats: the package built,
# linted, installed; the units verified and run under
# systemd-socket-activate; the completions loaded by bash-completion.
DEB_TEST += $(DEB_DEB) systemd bash-completion
