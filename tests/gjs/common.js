// What the gjs tests that run as ES modules (`gjs -m`) share: failing the test with a message,
// a main loop run under a deadline, and a loopback listener. Imported relative to the test,
// `import {…} from './common.js';`, which resolves against the test's own location.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import System from 'system';

export const DEADLINE = 30; // seconds

// The test's name, from the path gjs runs: what its messages start with.
const NAME = GLib.path_get_basename(System.programPath).replace(/\.js$/, '');

// Fails the test: the message on the standard error, and exit status 1.
export function fail(message) {
    printerr(`${NAME}: ${message}`);
    System.exit(1);
}

// Runs a main loop until quit() is called; fails the test after DEADLINE seconds instead, saying
// what it waited for (`what`, or what it returns when it is a function).
export function runLoop(loop, what) {
    const timeout = GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, DEADLINE, () => {
        fail(`timed out: ${typeof what === 'function' ? what() : what}`);
        return GLib.SOURCE_REMOVE;
    });
    loop.run();
    GLib.source_remove(timeout);
}

// Listens on 127.0.0.1 with an ephemeral port; returns the port.
export function listenLoopback(listener) {
    const [, effective] = listener.add_address(
        Gio.InetSocketAddress.new_from_string('127.0.0.1', 0),
        Gio.SocketType.STREAM, Gio.SocketProtocol.TCP, null);
    return effective.get_port();
}
