#!/bin/sh
# Installs the Debian packages Usher needs, skipping those already installed.
#
#   install-deps.sh demo   what `cargo run --example echo` needs
#   install-deps.sh        everything: the C library, GIR, vapi and every test
set -eu

packages="libglib2.0-dev pkg-config"
if [ "${1:-all}" != demo ]; then
    # meson builds libusher-1.so, the GIR and vapi, gi-docgen the C API reference; valac,
    # PyGObject and gjs run the tests; systemd provides systemd-socket-activate for the socket
    # activation test; xz-utils and patch take GLib's gio/tests/socket-service.c out of
    # Debian's glib2.0 source package; glib-networking is GIO's TLS backend, and openssl
    # makes the TLS tests' certificates and is one of their clients; HAProxy and nginx's stream
    # module are the real load balancers the PROXY protocol tests start; iproute2 and nftables
    # make a network namespace lose every packet, for the test of TCP_USER_TIMEOUT. The tests
    # of real GNOME programs (tests/consumers/) build them: dpkg-dev unpacks Debian's source
    # packages; glib-networking needs GnuTLS, gcr libsecret, libgcrypt, p11-kit, gpg and
    # OpenSSH's ssh-agent and ssh-add, xdg-dbus-proxy's test the D-Bus daemon. git (meson
    # dist), iproute2 (loopback in a network namespace) and flatpak-builder (which reads the
    # Flatpak manifests) test the release tarball.
    packages="$packages meson ninja-build gcc gobject-introspection libgirepository1.0-dev
        gir1.2-glib-2.0 valac python3-gi gjs systemd gi-docgen xz-utils patch
        glib-networking openssl haproxy nginx libnginx-mod-stream iproute2 nftables
        dpkg-dev libgnutls28-dev libsecret-1-dev libgcrypt20-dev libp11-kit-dev gpg
        openssh-client dbus-daemon git flatpak-builder"
fi

missing=
for package in $packages; do
    if ! dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'ok installed'; then
        missing="$missing $package"
    fi
done
[ -z "$missing" ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "Installing:$missing"
$sudo apt-get update -qq
# HAProxy and nginx are for the tests, which start their own: keep the packages from starting
# the system's services (on port 80, say) while they install, with the policy-rc.d(8) that
# refuses every start, unless the machine has a policy of its own.
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    trap '$sudo rm -f "$policy"' EXIT
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
fi
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
# Nor start them at the next boot: the packages enable their services with systemd.
for service in haproxy nginx; do
    case " $missing " in
        *" $service "*)
            if command -v systemctl >/dev/null; then
                $sudo systemctl disable --quiet "$service" 2>/dev/null || true
            fi
            ;;
    esac
done
