// The lifetime regression: connections that JavaScript drops are finalized by the garbage
// collector, and what their finalization causes in the service (counting them down,
// notify::n-connections, completing a graceful shutdown) must not run inside the collection.
// gjs refuses to run JS callbacks during garbage collection ("Attempting to run a JS callback
// during garbage collection"): a service that notified from the finalizer lost the notify and
// never completed its shutdown. Usher defers all of it to a later iteration of its context.
//
// Two variants: System.gc() before shutdown_async(), and System.gc() after it. In both the
// shutdown is started, or the collection run, while the connections are still counted.

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Usher from 'gi://Usher?version=1';
import System from 'system';

import {fail, listenLoopback, runLoop} from './common.js';

const CLIENTS = 4;

function variant(gcFirst) {
    const name = gcFirst ? 'gc, then shutdown' : 'shutdown, then gc';
    const loop = new GLib.MainLoop(null, false);
    const service = new Usher.SocketService();
    const port = listenLoopback(service);

    // The handler keeps no reference to its connection: once it returns, only the JS wrapper
    // keeps the connection alive, until the garbage collector finalizes it.
    let incoming = 0;
    service.connect('incoming', (_service, connection) => {
        connection.get_output_stream().write_all(new TextEncoder().encode('hello\n'), null);
        incoming++;
        if (incoming === CLIENTS && greeted === CLIENTS)
            loop.quit();
        return false;
    });

    const notified = [];
    service.connect('notify::n-connections', () => notified.push(service.n_connections));

    // The clients keep their connections: the server's side is only closed by its finalization.
    const clients = [];
    const ends = [];
    let greeted = 0;
    let ended = 0;
    let waitingForEnds = false;
    for (let i = 0; i < CLIENTS; i++) {
        new Gio.SocketClient().connect_to_host_async('127.0.0.1', port, null, (client, result) => {
            let connection;
            try {
                connection = client.connect_to_host_finish(result);
            } catch (error) {
                fail(`${name}: cannot connect: ${error.message}`);
            }
            clients.push(connection);
            const input = new Gio.DataInputStream({base_stream: connection.get_input_stream()});
            ends.push(input);
            input.read_line_async(GLib.PRIORITY_DEFAULT, null, (stream, lineResult) => {
                const [line] = stream.read_line_finish_utf8(lineResult);
                if (line !== 'hello')
                    fail(`${name}: unexpected greeting: ${line}`);
                greeted++;
                if (incoming === CLIENTS && greeted === CLIENTS)
                    loop.quit();
                // Then the end of the stream, once the server's connection is finalized.
                stream.read_line_async(GLib.PRIORITY_DEFAULT, null, (_stream, endResult) => {
                    const [rest] = stream.read_line_finish_utf8(endResult);
                    if (rest !== null)
                        fail(`${name}: unexpected line after the greeting: ${rest}`);
                    ended++;
                    if (waitingForEnds && ended === CLIENTS)
                        loop.quit();
                });
            });
        });
    }
    runLoop(loop, `${name}: the clients were not served`);

    if (service.n_connections !== CLIENTS)
        fail(`${name}: ${service.n_connections} connections counted, not ${CLIENTS}, before the gc`);

    let shutDown = false;
    const shutdown = () => service.shutdown_async(null, (s, res) => {
        try {
            if (!s.shutdown_finish(res))
                fail(`${name}: shutdown_finish returned false`);
        } catch (error) {
            fail(`${name}: the shutdown failed: ${error.message}`);
        }
        shutDown = true;
        loop.quit();
    });

    if (!gcFirst) {
        shutdown();
        if (service.n_connections === 0)
            fail(`${name}: no connection counted when the shutdown started`);
    }
    const before = notified.length;
    System.gc();
    // Nothing of the finalizations runs inside the collection: the count is taken down on the
    // service's context, later.
    if (notified.length !== before || service.n_connections !== CLIENTS) {
        fail(`${name}: the count changed inside the garbage collection ` +
            `(${service.n_connections} counted, notified ${JSON.stringify(notified.slice(before))})`);
    }
    if (gcFirst) {
        if (service.n_connections === 0)
            fail(`${name}: no connection counted when the shutdown started`);
        shutdown();
    }

    runLoop(loop, () => `${name}: the shutdown did not complete (${service.n_connections} ` +
        `connections counted, notified ${JSON.stringify(notified)})`);
    if (!shutDown)
        fail(`${name}: the loop ended before the shutdown`);
    if (service.n_connections !== 0)
        fail(`${name}: ${service.n_connections} connections counted after the shutdown`);
    if (!notified.includes(0))
        fail(`${name}: notify::n-connections never saw 0 (saw ${JSON.stringify(notified)})`);

    // The clients see the end of their streams: the connections were finalized, not leaked.
    if (ended < CLIENTS) {
        waitingForEnds = true;
        runLoop(loop, `${name}: ${CLIENTS - ended} clients never saw the end of their stream`);
    }
    for (const connection of clients)
        connection.close(null);
    print(`gjs ${name}: ${CLIENTS} connections finalized by the gc, shutdown completed`);
}

variant(true);
variant(false);
