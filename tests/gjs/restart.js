// Restart without dropping a client, from gjs: a service hands its listening socket (named
// "web" by its settings) over to a successor process, this module run again, which takes it
// over with take_over(), tags it by name and serves it from then on.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Usher from 'gi://Usher?version=1';
import System from 'system';

import {DEADLINE, fail, runLoop} from './common.js';

const Tag = GObject.registerClass({
    Properties: {
        'name': GObject.ParamSpec.string('name', 'Name', 'The socket name', GObject.ParamFlags.READWRITE, ''),
    },
}, class Tag extends GObject.Object {});

function abstract(name) {
    return Gio.UnixSocketAddress.new_with_type(new TextEncoder().encode(name),
        Gio.UnixSocketAddressType.ABSTRACT);
}

// The successor: takes the sockets over, answers one client with the socket's name, exits.
function successor(name) {
    const loop = new GLib.MainLoop(null, false);
    const service = new Usher.SocketService();
    const added = service.take_over(abstract(name), null, socketName => new Tag({name: socketName}));
    print(`took over ${added}`);
    service.connect('incoming', (_service, connection, tag) => {
        connection.get_output_stream().write_all(new TextEncoder().encode(`successor ${tag.name}\n`), null);
        connection.close(null);
        GLib.idle_add(GLib.PRIORITY_DEFAULT, () => loop.quit());
        return false;
    });
    runLoop(loop, 'a client');
}

function predecessor() {
    const loop = new GLib.MainLoop(null, false);
    const service = new Usher.SocketService();
    const settings = new Usher.SocketSettings({name: 'web'});
    const [ok, effective] = service.add_address_full(
        Gio.InetSocketAddress.new_from_string('127.0.0.1', 0),
        Gio.SocketType.STREAM, Gio.SocketProtocol.TCP, null, settings);
    if (!ok)
        fail('cannot listen');
    const port = effective.get_port();

    const name = `usher-gjs-test-${new Gio.Credentials().get_unix_pid()}`;
    let handed = null;
    // Listening once the call returns: the successor may start at once.
    service.hand_over_async(abstract(name), null, (_service, result) => {
        try {
            handed = service.hand_over_finish(result);
        } catch (error) {
            fail(`the handover failed: ${error.message}`);
        }
        loop.quit();
    });
    const gjs = GLib.find_program_in_path('gjs');
    const child = Gio.Subprocess.new([gjs, '-m', System.programPath, 'successor', name],
        Gio.SubprocessFlags.STDOUT_PIPE);
    runLoop(loop, 'the successor');
    if (handed !== 1)
        fail(`handed over ${handed} sockets, not 1`);

    service.shutdown_async(null, (_service, result) => {
        service.shutdown_finish(result);
        loop.quit();
    });
    runLoop(loop, 'the shutdown');

    // The successor alone serves the port now.
    const client = new Gio.SocketClient({timeout: DEADLINE});
    const connection = client.connect_to_host('127.0.0.1', port, null);
    const input = new Gio.DataInputStream({base_stream: connection.get_input_stream()});
    const [line] = input.read_line_utf8(null);
    if (line !== 'successor web')
        fail(`the successor answered ${line}`);
    const [, stdout] = child.communicate_utf8(null, null);
    if (stdout !== 'took over 1\n' || !child.get_successful())
        fail(`the successor said ${stdout}`);
    print('ok');
}

if (System.programArgs[0] === 'successor')
    successor(System.programArgs[1]);
else
    predecessor();
