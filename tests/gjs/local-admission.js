// Local services and admission control from JavaScript: a Unix socket service with settings (its
// file's mode read back, a live path refused with ADDRESS_IN_USE), accept-credentials refusing
// then accepting with the refused signal and get_peer_credentials(), the file removed at
// shutdown; a subclass overriding vfunc_accept_credentials; then a TCP port with a deny list, a
// client from 127.0.0.2 refused (the refused signal's peer, reason and error) and one from
// 127.0.0.3 served, get_n_refused(), try_set_denied_peers() throwing; and a memory monitor
// written in JavaScript whose warnings set overloaded.

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Usher from 'gi://Usher?version=1';

import {fail, runLoop} from './common.js';

const loop = new GLib.MainLoop(null, false);
const ownPid = new Gio.Credentials().get_unix_pid();

// Runs the loop until condition() holds, checked at each event (wake()); fails after the
// deadline, saying what it waited for.
let waitingFor = null;
function until(condition, what) {
    if (condition())
        return;
    waitingFor = condition;
    runLoop(loop, what);
    waitingFor = null;
}
function wake() {
    if (waitingFor?.())
        loop.quit();
}

const held = [];
const refusals = [];
const errors = [];
function watch(service) {
    service.connect('incoming', (_service, connection) => {
        held.push(connection);
        wake();
        return false;
    });
    service.connect('refused', (_service, peer, reason, error) => {
        refusals.push({peer: peer === null ? null : peer.to_string(), reason, error});
        wake();
    });
    service.connect('accept-error', (_service, error) => {
        errors.push(error);
        wake();
    });
}

// Connects a client to `connectable`, from `local` if given; returns its connection, and what
// it reads first: '' if the service closed it at once, null if it is still open and silent.
function visit(connectable, local = null) {
    const client = new Gio.SocketClient();
    if (local !== null)
        client.local_address = Gio.InetSocketAddress.new_from_string(local, 0);
    const outcome = {};
    client.connect_async(connectable, null, (_client, result) => {
        try {
            outcome.connection = client.connect_finish(result);
        } catch (error) {
            fail(`the client failed to connect: ${error.message}`);
        }
        outcome.connection.get_input_stream().read_bytes_async(16, GLib.PRIORITY_DEFAULT, null,
            (stream, read) => {
                try {
                    outcome.read = new TextDecoder().decode(stream.read_bytes_finish(read).toArray());
                } catch {
                    outcome.read = ''; // reset
                }
                wake();
            });
        wake();
    });
    return outcome;
}

// A Unix socket service with settings of its own.
const directory = GLib.Dir.make_tmp('usher-gjs-local-XXXXXX');
const path = GLib.build_filenamev([directory, 'service.sock']);
const service = new Usher.SocketService();
watch(service);
const settings = new Usher.SocketSettings({unix_mode: 0o640});
const [added, effective] = service.add_address_full(Gio.UnixSocketAddress.new(path),
    Gio.SocketType.STREAM, Gio.SocketProtocol.DEFAULT, null, settings);
if (!added || !(effective instanceof Gio.UnixSocketAddress) || effective.get_path() !== path)
    fail(`add_address_full() gave ${added}, ${effective}`);
const info = Gio.File.new_for_path(path).query_info('unix::mode,standard::type',
    Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
const mode = info.get_attribute_uint32('unix::mode');
if ((mode & 0o7777) !== 0o640 || info.get_file_type() !== Gio.FileType.SPECIAL)
    fail(`the socket file has mode ${(mode & 0o7777).toString(8)}, type ${info.get_file_type()}`);

// A live path is refused.
const second = new Usher.SocketService();
try {
    second.add_address_full(Gio.UnixSocketAddress.new(path), Gio.SocketType.STREAM,
        Gio.SocketProtocol.DEFAULT, null, null);
    fail('a second service took a live path');
} catch (error) {
    if (!error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.ADDRESS_IN_USE))
        fail(`a live path gave ${error}`);
}
second.close();
// Its probe may have reached the service as a client, waiting to be accepted: let it in, then
// forget it.
const context = GLib.MainContext.default();
while (context.pending())
    context.iteration(false);
for (const connection of held.splice(0))
    connection.close(null);
if (refusals.length !== 0 || errors.length !== 0)
    fail(`refused ${refusals.length}, accept-error ${errors.length} before any client`);

// accept-credentials refuses, then accepts.
let accept = false;
const asked = [];
service.connect('accept-credentials', (_service, connection, credentials) => {
    asked.push(credentials.get_unix_pid());
    return accept;
});
const refused = visit(Gio.UnixSocketAddress.new(path));
until(() => refused.read !== undefined && refusals.length === 1, () => 'a refusal');
if (refused.read !== '' || held.length !== 0)
    fail(`a refused client read "${refused.read}", ${held.length} handed out`);
const [credentialRefusal] = refusals;
if (credentialRefusal.peer !== null || credentialRefusal.reason !== Usher.Refusal.CREDENTIALS ||
    !credentialRefusal.error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED))
    fail(`refused gave ${JSON.stringify(credentialRefusal)}`);
if (service.get_n_refused(Usher.Refusal.CREDENTIALS) !== 1)
    fail(`get_n_refused(CREDENTIALS) is ${service.get_n_refused(Usher.Refusal.CREDENTIALS)}`);
accept = true;
const accepted = visit(Gio.UnixSocketAddress.new(path));
until(() => accepted.connection && held.length === 1, 'the accepted client');
if (asked.length !== 2 || asked.some(pid => pid !== ownPid))
    fail(`accept-credentials was asked for ${asked}, not twice for ${ownPid}`);
const credentials = Usher.SocketService.get_peer_credentials(held[0]);
if (credentials.get_unix_pid() !== ownPid)
    fail(`get_peer_credentials() gave pid ${credentials.get_unix_pid()}`);

// Shut down, the service removes its file at once, and completes once the connection is
// closed.
accepted.connection.close(null);
for (const connection of held.splice(0))
    connection.close(null);
let shutDown = false;
service.shutdown_async(null, (_service, result) => {
    shutDown = service.shutdown_finish(result);
    wake();
});
if (GLib.file_test(path, GLib.FileTest.EXISTS))
    fail('the socket file is still there after the shutdown began');
until(() => shutDown, 'the shutdown');

// A subclass decides in its class handler.
const Gatekeeper = GObject.registerClass(class Gatekeeper extends Usher.SocketService {
    vfunc_accept_credentials(_connection, credentials) {
        this.asked = (this.asked ?? 0) + 1;
        return credentials.get_unix_pid() !== ownPid;
    }
});
refusals.length = 0;
errors.length = 0;
const gatekeeper = new Gatekeeper();
watch(gatekeeper);
const gatePath = GLib.build_filenamev([directory, 'gate.sock']);
gatekeeper.add_address_full(Gio.UnixSocketAddress.new(gatePath), Gio.SocketType.STREAM,
    Gio.SocketProtocol.DEFAULT, null, null);
const kept = visit(Gio.UnixSocketAddress.new(gatePath));
until(() => kept.read !== undefined && refusals.length === 1, 'the refusal of the subclass');
if (kept.read !== '' || gatekeeper.asked !== 1 || refusals[0].reason !== Usher.Refusal.CREDENTIALS)
    fail(`the subclass was asked ${gatekeeper.asked} times, refused ${refusals[0].reason}`);
let gateShutDown = false;
gatekeeper.shutdown_async(null, (_service, result) => {
    gateShutDown = gatekeeper.shutdown_finish(result);
    wake();
});
until(() => gateShutDown, 'the shutdown of the subclass');
if (GLib.file_test(gatePath, GLib.FileTest.EXISTS))
    fail('gate.sock is still there after the shutdown');
GLib.rmdir(directory);

// A TCP port with a deny list.
refusals.length = 0;
errors.length = 0;
const web = new Usher.SocketService();
watch(web);
const denying = new Usher.SocketSettings();
denying.try_set_denied_peers(['127.0.0.2', '192.0.2.0/24']);
const [, tcp] = web.add_address_full(Gio.InetSocketAddress.new_from_string('127.0.0.1', 0),
    Gio.SocketType.STREAM, Gio.SocketProtocol.TCP, null, denying);
const port = Gio.NetworkAddress.new('127.0.0.1', tcp.get_port());

const denied = visit(port, '127.0.0.2');
until(() => denied.read !== undefined && refusals.length === 1, 'the denied client');
const [denial] = refusals;
if (denied.read !== '' || denial.peer !== '127.0.0.2' || denial.reason !== Usher.Refusal.DENIED)
    fail(`the denied client read "${denied.read}", refused gave ${denial.peer}, ${denial.reason}`);
if (!denial.error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED) ||
    !denial.error.message.includes('127.0.0.2'))
    fail(`the denial's error is ${denial.error}`);
if (errors.length !== 1 || errors[0].message !== denial.error.message)
    fail(`accept-error reported ${errors.map(error => error.message)}`);
const served = visit(port, '127.0.0.3');
until(() => served.connection && held.length === 1, 'the client from 127.0.0.3');
const remote = held[0].get_remote_address().get_address().to_string();
if (remote !== '127.0.0.3')
    fail(`the connection handed out came from ${remote}`);
if (web.get_n_refused(Usher.Refusal.DENIED) !== 1 || web.get_n_refused(Usher.Refusal.PEER_RATE) !== 0)
    fail(`get_n_refused() gave ${web.get_n_refused(Usher.Refusal.DENIED)} denied`);

try {
    denying.try_set_denied_peers(['127.0.0.3', 'not an address']);
    fail('try_set_denied_peers() took "not an address"');
} catch (error) {
    if (!error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT))
        fail(`an invalid peer gave ${error}`);
}
if (denying.denied_peers.join() !== '127.0.0.2,192.0.2.0/24')
    fail(`a failed try_set_denied_peers() left ${denying.denied_peers}`);

// A memory monitor of JavaScript's: MEDIUM sets overloaded, LOW clears it.
const FakeMonitor = GObject.registerClass({
    Implements: [Gio.Initable, Gio.MemoryMonitor],
}, class FakeMonitor extends GObject.Object {
    vfunc_init(_cancellable) {
        return true;
    }
});
const monitor = new FakeMonitor();
web.memory_monitor = monitor;
const overloaded = [];
web.connect('notify::overloaded', () => {
    overloaded.push(web.overloaded);
    wake();
});
monitor.emit('low-memory-warning', Gio.MemoryMonitorWarningLevel.MEDIUM);
until(() => overloaded.length === 1, 'overloaded');
monitor.emit('low-memory-warning', Gio.MemoryMonitorWarningLevel.LOW);
until(() => overloaded.length === 2, 'overloaded no more');
if (overloaded.join() !== 'true,false' || web.get_n_refused(Usher.Refusal.OVERLOAD) !== 1)
    fail(`overloaded went ${overloaded}, ${web.get_n_refused(Usher.Refusal.OVERLOAD)} pauses`);

served.connection.close(null);
web.stop();
web.close();
print('gjs local-admission: a Unix socket with settings and credentials, a subclass, a deny list, memory pressure');
