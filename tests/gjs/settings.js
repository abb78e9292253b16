// Settings per listening socket from JavaScript: an Usher.SocketSettings made with properties, a
// port added with add_address_full() and those settings, a connection from a Gio.SocketClient
// reaching `incoming` with get_for_connection() returning the settings and
// get_listening_socket() the port's socket, and a property changed afterwards applying to the
// next connection, not to the one before. Then the service's own settings as the views its
// properties are, and try_set_proxy_protocol_peers() throwing.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Usher from 'gi://Usher?version=1';

import {fail, runLoop} from './common.js';

// From <netinet/in.h> and <netinet/tcp.h> (Linux).
const IPPROTO_TCP = 6;
const TCP_USER_TIMEOUT = 18;

const loop = new GLib.MainLoop(null, false);

const settings = new Usher.SocketSettings({timeout: 3, tcp_user_timeout: 2500});
for (const [name, set] of [['timeout', true], ['tcp-user-timeout', true], ['tcp-keepalive', false]]) {
    if (settings.is_set(name) !== set)
        fail(`is_set('${name}') is ${!set}`);
}
settings.tcp_keepalive = false;
if (!settings.is_set('tcp-keepalive'))
    fail('tcp-keepalive set to its default value is not set');
settings.unset('tcp-keepalive');
if (settings.is_set('tcp-keepalive'))
    fail('tcp-keepalive is set after unset()');

const service = new Usher.SocketService();
const [added, effective] = service.add_address_full(
    Gio.InetSocketAddress.new_from_string('127.0.0.1', 0), Gio.SocketType.STREAM,
    Gio.SocketProtocol.TCP, null, settings);
if (!added || !(effective instanceof Gio.InetSocketAddress))
    fail(`add_address_full() gave ${added}, ${effective}`);
const port = effective.get_port();
service.connect('accept-error', (_service, error) => fail(`accept-error: ${error.message}`));

const connections = [];
service.connect('incoming', (_service, connection) => {
    const socket = connection.get_socket();
    const [, userTimeout] = socket.get_option(IPPROTO_TCP, TCP_USER_TIMEOUT);
    connections.push({
        connection,
        settings: Usher.SocketSettings.get_for_connection(connection),
        listening: Usher.SocketService.get_listening_socket(connection),
        timeout: socket.get_timeout(),
        userTimeout,
    });
    quitWhenBoth();
    return false;
});

// Connects a client and runs the loop until the client is connected and the service handed its
// connection out; returns what the incoming handler saw of it.
const clients = [];
function quitWhenBoth() {
    if (clients.length === connections.length)
        loop.quit();
}
function acceptOne() {
    const count = connections.length + 1;
    new Gio.SocketClient().connect_to_host_async('127.0.0.1', port, null, (client, result) => {
        try {
            clients.push(client.connect_to_host_finish(result));
        } catch (error) {
            fail(`the client failed: ${error.message}`);
        }
        quitWhenBoth();
    });
    runLoop(loop, () => `connection ${count}: ${clients.length} clients connected, ` +
        `${connections.length} connections handed out`);
    return connections[count - 1];
}

const first = acceptOne();
if (first.settings !== settings)
    fail(`get_for_connection() gave ${first.settings}, not the port's settings`);
if (!(first.listening instanceof Gio.Socket) ||
    first.listening.get_local_address().get_port() !== port)
    fail(`get_listening_socket() gave ${first.listening}, not the socket of port ${port}`);
if (first.timeout !== 3 || first.userTimeout !== 2500)
    fail(`the first connection has timeout ${first.timeout}, TCP_USER_TIMEOUT ${first.userTimeout}`);

settings.timeout = 8;
settings.tcp_user_timeout = 4000;
const second = acceptOne();
if (second.settings !== settings || second.listening !== first.listening)
    fail('the second connection came from elsewhere');
if (second.timeout !== 8 || second.userTimeout !== 4000)
    fail(`the change did not apply: timeout ${second.timeout}, TCP_USER_TIMEOUT ${second.userTimeout}`);
if (first.connection.get_socket().get_timeout() !== 3)
    fail('the change applied to the connection before it');

// Unset, the socket takes the service's own settings.
settings.unset('timeout');
service.socket_settings.timeout = 5;
const third = acceptOne();
if (third.timeout !== 5)
    fail(`with timeout unset, the connection has ${third.timeout}, not the service's 5`);
for (const client of clients)
    client.close(null);
if (Usher.SocketSettings.get_for_connection(clients[0]) !== null)
    fail("the client's connection has settings");

// The service's properties are views of its own settings.
const own = service.get_socket_settings();
if (own !== service.socket_settings)
    fail('socket-settings is not get_socket_settings()');
let notified = 0;
service.connect('notify::timeout', () => notified++);
own.timeout = 9;
if (service.timeout !== 9 || notified !== 1)
    fail(`service.timeout is ${service.timeout}, notified ${notified} times`);
service.proxy_protocol_required = false;
if (!own.is_set('proxy-protocol-required') || own.proxy_protocol_required)
    fail('proxy-protocol-required is no view of the service\'s settings');

try {
    settings.try_set_proxy_protocol_peers(['127.0.0.1', 'localhost']);
    fail('try_set_proxy_protocol_peers() took "localhost"');
} catch (error) {
    if (!error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT))
        fail(`an invalid peer gave ${error}`);
}
// An empty list may read as null (gjs 1.90), as the property is nullable.
if (settings.is_set('proxy-protocol-peers') || (settings.proxy_protocol_peers ?? []).length !== 0)
    fail('a failed try_set_proxy_protocol_peers() changed the peers');

service.stop();
print('gjs settings: a port with settings of its own, changed between two connections');
