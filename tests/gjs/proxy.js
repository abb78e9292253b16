// The PROXY protocol from JavaScript: a service trusting 127.0.0.1 gets a v1 header from a
// Gio.SocketClient, and Usher.ProxyInfo.get_for_connection() gives the client's addresses in
// its incoming handler, with the data after the header left to read.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Usher from 'gi://Usher?version=1';

import {fail, listenLoopback, runLoop} from './common.js';

const loop = new GLib.MainLoop(null, false);
const service = new Usher.SocketService();
service.try_set_proxy_protocol_peers(['127.0.0.1']);
if (service.proxy_protocol_peers.join() !== '127.0.0.1')
    fail(`proxy-protocol-peers reads back as ${service.proxy_protocol_peers}`);
try {
    service.try_set_proxy_protocol_peers(['localhost']);
    fail('try_set_proxy_protocol_peers() took "localhost"');
} catch (error) {
    if (!error.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.INVALID_ARGUMENT))
        fail(`an invalid peer gave ${error}`);
}
const port = listenLoopback(service);
service.connect('accept-error', (_service, error) => fail(`accept-error: ${error.message}`));

let seen = null;
service.connect('incoming', (_service, connection) => {
    const info = Usher.ProxyInfo.get_for_connection(connection);
    if (info === null)
        fail('the connection carries no ProxyInfo');
    const source = info.get_source_address();
    const destination = info.destination_address;
    seen = {
        version: info.version,
        command: info.get_command(),
        source: `${source.address.to_string()}:${source.port}`,
        destination: `${destination.address.to_string()}:${destination.port}`,
        proxy: info.proxy_address.address.to_string(),
        alpn: info.get_alpn(),
    };
    const input = new Gio.DataInputStream({base_stream: connection.get_input_stream()});
    input.read_line_async(GLib.PRIORITY_DEFAULT, null, (stream, result) => {
        try {
            [seen.line] = stream.read_line_finish_utf8(result);
        } catch (error) {
            fail(`cannot read after the header: ${error.message}`);
        }
        connection.close(null);
        loop.quit();
    });
    return false;
});

let client = null;
new Gio.SocketClient().connect_to_host_async('127.0.0.1', port, null, (socketClient, result) => {
    try {
        client = socketClient.connect_to_host_finish(result);
        client.get_output_stream().write_all(
            new TextEncoder().encode('PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\nhello\n'), null);
    } catch (error) {
        fail(`the client failed: ${error.message}`);
    }
});
runLoop(loop, 'no connection handed out');
client.close(null);

const expected = {
    version: 1,
    command: Usher.ProxyCommand.PROXY,
    source: '192.0.2.9:5555',
    destination: '192.0.2.1:80',
    proxy: '127.0.0.1',
    alpn: null,
    line: 'hello',
};
if (JSON.stringify(seen) !== JSON.stringify(expected))
    fail(`the info said ${JSON.stringify(seen)}, not ${JSON.stringify(expected)}`);
print('gjs PROXY protocol: the info of a v1 header, and the data after it');
