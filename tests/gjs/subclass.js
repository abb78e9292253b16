// Subclassing Usher.SocketService from JavaScript: a `vfunc_incoming` that echoes a line, then
// a graceful shutdown.

imports.gi.versions.Usher = '1';
const {GLib, GObject, Gio, Usher} = imports.gi;
const System = imports.system;

const Echo = GObject.registerClass(
class Echo extends Usher.SocketService {
    vfunc_incoming(connection, sourceObject) {
        const input = new Gio.DataInputStream({base_stream: connection.get_input_stream()});
        input.read_line_async(GLib.PRIORITY_DEFAULT, null, (stream, result) => {
            const [line] = stream.read_line_finish_utf8(result);
            connection.get_output_stream().write_all(new TextEncoder().encode(`${line}\n`), null);
            connection.close(null);
        });
        return false;
    }
});

function fail(message) {
    printerr(message);
    System.exit(1);
}

const echo = new Echo();
const [, effective] = echo.add_address(
    Gio.InetSocketAddress.new_from_string('127.0.0.1', 0),
    Gio.SocketType.STREAM, Gio.SocketProtocol.TCP, null);
const loop = new GLib.MainLoop(null, false);
GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 30, () => fail('timed out'));

new Gio.SocketClient().connect_to_host_async('127.0.0.1', effective.get_port(), null,
    (client, result) => {
        const connection = client.connect_to_host_finish(result);
        connection.get_output_stream().write_all(new TextEncoder().encode('hello from gjs\n'), null);
        const input = new Gio.DataInputStream({base_stream: connection.get_input_stream()});
        input.read_line_async(GLib.PRIORITY_DEFAULT, null, (stream, lineResult) => {
            const [line] = stream.read_line_finish_utf8(lineResult);
            if (line !== 'hello from gjs')
                fail(`unexpected echo: ${line}`);
            loop.quit();
        });
    });

loop.run();

// A graceful shutdown through GI's async support.
echo.shutdown_async(null, (service, result) => {
    if (!service.shutdown_finish(result))
        fail('the shutdown failed');
    loop.quit();
});
loop.run();
if (echo.is_active() || echo.n_connections !== 0)
    fail('the service is still serving');
print('gjs subclass echoed a line and shut down');
