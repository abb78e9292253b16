// The echo server from the documentation of GLib.SocketService, in JavaScript (gjs), on Usher.
//
//   gjs -m echo.js [PORT…]
//
// It listens on ports 1024 and 1025 (or the ones given), each tagged with a Source object that
// carries its port, reads one line from each client, prints it and echoes it back. Try
// `nc localhost 1024` (or the Python client in README.md); the line "shutdown" stops the service
// and ends the program.
//
// Ctrl-C (SIGINT) or `kill` (SIGTERM) shuts the service down gracefully with shutdown_async():
// the ports are freed at once, the clients being served get their echo, then the program ends.
// A second signal disconnects them.
//
// Run it against a build directory with `meson devenv -C build -w . gjs -m examples/echo.js`, or
// with GI_TYPELIB_PATH and LD_LIBRARY_PATH set for the installed library (see README.md).

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import GObject from 'gi://GObject';
import Usher from 'gi://Usher?version=1';
import System from 'system';

// POSIX signal numbers, which GLib does not name.
const SIGINT = 2;
const SIGTERM = 15;

// The source_object of a listening socket: which port a client came in on.
const Source = GObject.registerClass({
    Properties: {
        port: GObject.ParamSpec.int('port', 'Port', 'The port the socket listens on',
            GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY, 0, 65535, 0),
    },
}, class Source extends GObject.Object {});

const clients = n => (n === 1 ? '1 client' : `${n} clients`);

const ports = System.programArgs.length > 0 ? System.programArgs.map(Number) : [1024, 1025];
if (!ports.every(port => Number.isInteger(port) && port > 0 && port < 65536)) {
    printerr(`usage: gjs -m echo.js [PORT…]: not a port in ${System.programArgs.join(' ')}`);
    System.exit(1);
}

const loop = new GLib.MainLoop(null, false);
const service = new Usher.SocketService();
try {
    for (const port of ports)
        service.add_inet_port(port, new Source({port}));
} catch (error) {
    printerr(`Cannot listen: ${error.message}`);
    System.exit(1);
}

service.connect('incoming', (_service, connection, sourceObject) => {
    print(`Accepted! (Source: ${sourceObject.port})`);
    const input = new Gio.DataInputStream({base_stream: connection.get_input_stream()});
    input.read_line_async(GLib.PRIORITY_DEFAULT, null, (stream, result) => {
        let line = null;
        try {
            [line] = stream.read_line_finish_utf8(result);
        } catch (error) {
            print(`Error: ${error.message}`);
        }
        if (line !== null) {
            line = line.trim();
            print(`Received: ${line}`);
            try {
                connection.get_output_stream().write_all(
                    new TextEncoder().encode(`${line}\n`), null);
            } catch (error) {
                print(`Error: ${error.message}`);
            }
        }
        // Close it now rather than when it is garbage-collected: the shutdown waits for it.
        connection.close(null);
        if (line === 'shutdown') {
            service.stop();
            loop.quit();
        }
    });
    return false;
});

let shuttingDown = false;
function shutDownGracefully() {
    if (shuttingDown) {
        print(`Disconnecting ${clients(service.n_connections)}.`);
        service.close_connections();
        return GLib.SOURCE_CONTINUE;
    }
    shuttingDown = true;
    // Closes the listening sockets at once; calls back once every connection is closed.
    service.shutdown_async(null, (_service, result) => {
        try {
            service.shutdown_finish(result);
        } catch (error) {
            printerr(`Cannot shut down: ${error.message}`);
        }
        print('Shut down.');
        loop.quit();
    });
    print(`Shutting down: the ports are free, waiting for ${clients(service.n_connections)}.`);
    return GLib.SOURCE_CONTINUE;
}
// GLib 2.80 moved unix_signal_add() to GLibUnix, as signal_add_full() (2.84) and later as
// signal_add() (2.90, where gjs warns about the old name); older GLib has only the old one.
let unixSignalAdd;
try {
    const {default: GLibUnix} = await import('gi://GLibUnix');
    unixSignalAdd = GLibUnix.signal_add ?? GLibUnix.signal_add_full;
} catch {
    unixSignalAdd = GLib.unix_signal_add;
}
for (const signum of [SIGINT, SIGTERM])
    unixSignalAdd(GLib.PRIORITY_DEFAULT, signum, shutDownGracefully);

service.start();
loop.run();
