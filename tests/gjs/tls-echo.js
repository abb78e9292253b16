// TLS from JavaScript: a service with tls-certificate (a self-signed certificate for localhost
// and 127.0.0.1, made by openssl in a temporary directory) echoes a line asynchronously to a
// Gio.SocketClient with `tls` set, which trusts the certificate from its accept-certificate
// handler. The connection handed to `incoming` is a Gio.TcpWrapperConnection whose base stream is
// the Gio.TlsServerConnection, as GSocketClient returns them.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import GObject from 'gi://GObject';
import Usher from 'gi://Usher?version=1';

import {fail, listenLoopback, runLoop} from './common.js';

const LINE = 'hello over TLS from gjs';

// The certificate and its key, in a directory removed at the end.
const dir = GLib.dir_make_tmp('usher-gjs-tls-XXXXXX');
const certFile = GLib.build_filenamev([dir, 'cert.pem']);
const keyFile = GLib.build_filenamev([dir, 'key.pem']);
const [, , opensslErr, status] = GLib.spawn_command_line_sync(
    'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 ' +
    `-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 ` +
    `-keyout ${GLib.shell_quote(keyFile)} -out ${GLib.shell_quote(certFile)}`);
try {
    GLib.spawn_check_wait_status(status);
} catch (error) {
    fail(`openssl failed: ${error.message}: ${new TextDecoder().decode(opensslErr)}`);
}
const certificate = Gio.TlsCertificate.new_from_files(certFile, keyFile);
for (const file of [certFile, keyFile])
    GLib.unlink(file);
GLib.rmdir(dir);

const loop = new GLib.MainLoop(null, false);
const service = new Usher.SocketService({tls_certificate: certificate});
if (!service.tls_certificate.is_same(certificate))
    fail('tls-certificate does not read back');
const port = listenLoopback(service);

const acceptErrors = [];
service.connect('accept-error', (_service, error) => acceptErrors.push(error.message));

let served = null;
let shapeChecked = false;
// The service keeps its connections, as servers that track their clients do: only their close,
// not their finalization by the garbage collector, can then let the shutdown complete.
const connections = [];
let serverClosed = false;
service.connect('incoming', (_service, connection) => {
    connections.push(connection);
    if (!(connection instanceof Gio.TcpWrapperConnection))
        fail(`incoming got a ${connection.constructor.name}, not a Gio.TcpWrapperConnection`);
    const base = connection.get_base_io_stream();
    if (!(base instanceof Gio.TlsServerConnection))
        fail(`the base stream is a ${base.constructor.name}, not a Gio.TlsServerConnection`);
    if (!(base.base_io_stream instanceof Gio.SocketConnection))
        fail('the TLS connection does not wrap the socket connection');
    shapeChecked = true;
    // Echo one line, asynchronously; the closures keep the connection.
    const input = new Gio.DataInputStream({base_stream: connection.get_input_stream()});
    input.read_line_async(GLib.PRIORITY_DEFAULT, null, (stream, result) => {
        try {
            const [line] = stream.read_line_finish_utf8(result);
            served = line;
            connection.get_output_stream().write_all_async(
                new TextEncoder().encode(`${line}\n`), GLib.PRIORITY_DEFAULT, null,
                (output, writeResult) => {
                    output.write_all_finish(writeResult);
                    connection.close_async(GLib.PRIORITY_DEFAULT, null, (c, closeResult) => {
                        c.close_finish(closeResult);
                        serverClosed = true;
                    });
                });
        } catch (error) {
            fail(`the server's echo failed: ${error.message}`);
        }
    });
    return false;
});

// The client trusts the self-signed certificate when its handshake asks.
const client = new Gio.SocketClient({tls: true});
let askedToAccept = null;
// Gio.SocketClient.prototype.connect() is the method that connects to a host: GObject's one
// connects the signal.
GObject.Object.prototype.connect.call(client, 'event', (_client, event, _connectable, connection) => {
    if (event !== Gio.SocketClientEvent.TLS_HANDSHAKING)
        return;
    if (!(connection instanceof Gio.TlsClientConnection))
        fail(`TLS_HANDSHAKING with a ${connection.constructor.name}`);
    connection.connect('accept-certificate', (_connection, peerCertificate, errors) => {
        askedToAccept = {same: peerCertificate.is_same(certificate), errors};
        return true;
    });
});

let echoed = null;
client.connect_to_host_async('127.0.0.1', port, null, (_client, result) => {
    let connection;
    try {
        connection = client.connect_to_host_finish(result);
    } catch (error) {
        fail(`cannot connect: ${error.message}`);
    }
    if (!(connection.get_base_io_stream() instanceof Gio.TlsClientConnection))
        fail('the client connection is not TLS');
    connection.get_output_stream().write_all_async(new TextEncoder().encode(`${LINE}\n`),
        GLib.PRIORITY_DEFAULT, null, (output, writeResult) => {
            try {
                output.write_all_finish(writeResult);
            } catch (error) {
                fail(`cannot send: ${error.message}`);
            }
            const input = new Gio.DataInputStream({base_stream: connection.get_input_stream()});
            input.read_line_async(GLib.PRIORITY_DEFAULT, null, (stream, lineResult) => {
                try {
                    [echoed] = stream.read_line_finish_utf8(lineResult);
                } catch (error) {
                    fail(`cannot read the echo: ${error.message}`);
                }
                connection.close(null);
                loop.quit();
            });
        });
});
runLoop(loop, 'no echo');

if (echoed !== LINE)
    fail(`unexpected echo: ${echoed}`);
if (served !== LINE)
    fail(`the server read ${served}`);
if (!shapeChecked)
    fail('incoming was not emitted');
if (askedToAccept === null)
    fail("the client's accept-certificate was not emitted");
if (!askedToAccept.same)
    fail('the client was shown another certificate than the service\'s');
if (!(askedToAccept.errors & Gio.TlsCertificateFlags.UNKNOWN_CA))
    fail(`the self-signed certificate was not reported as of an unknown CA (${askedToAccept.errors})`);
if (acceptErrors.length !== 0)
    fail(`accept errors: ${acceptErrors.join('; ')}`);

service.shutdown_async(null, (s, result) => {
    try {
        s.shutdown_finish(result);
    } catch (error) {
        fail(`the shutdown failed: ${error.message}`);
    }
    loop.quit();
});
runLoop(loop, () => `the shutdown did not complete: ${service.n_connections} connections ` +
    `counted, ${connections.filter(c => c.is_closed()).length} of ${connections.length} closed ` +
    `(the server's close ${serverClosed ? 'completed' : 'did not complete'})`);
if (service.n_connections !== 0)
    fail(`${service.n_connections} connections after the shutdown`);
print('gjs TLS echo: echoed a line over TLS and shut down');
