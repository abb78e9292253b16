// Certificates while serving, from JavaScript: a service with certificates by server name
// (self-signed ones for default.test, a.test and *.wild.test, made by openssl in a temporary
// directory) serves Gio.TlsClientConnection clients asking for a.test, x.wild.test, a name a
// select-certificate handler knows, and no name; Usher.ClientHello tells each name; the default
// certificate, loaded from a file, is replaced by a rename (served from the next handshake on)
// and by a half-written file (reported with tls-certificate-reload-failed, and kept out).

import GLib from 'gi://GLib';
import Gio from 'gi://Gio';
import Usher from 'gi://Usher?version=1';

import {fail, listenLoopback, runLoop} from './common.js';

Gio._promisify(Gio.SocketClient.prototype, 'connect_async');
Gio._promisify(Gio.TlsConnection.prototype, 'handshake_async');

const dir = GLib.dir_make_tmp('usher-gjs-certificates-XXXXXX');
const file = name => GLib.build_filenamev([dir, name]);
const made = [];

// A self-signed certificate for `name`, its key with it in STEM.pem.
function makeCertificate(stem, name) {
    const [, , errors, status] = GLib.spawn_command_line_sync(
        'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 ' +
        `-subj /CN=${name} -addext subjectAltName=DNS:${name} ` +
        `-keyout ${GLib.shell_quote(file(`${stem}.key`))} -out ${GLib.shell_quote(file(`${stem}.crt`))}`);
    try {
        GLib.spawn_check_wait_status(status);
    } catch (error) {
        fail(`openssl failed: ${error.message}: ${new TextDecoder().decode(errors)}`);
    }
    const [, crt] = GLib.file_get_contents(file(`${stem}.crt`));
    const [, key] = GLib.file_get_contents(file(`${stem}.key`));
    const both = new Uint8Array([...crt, ...key]);
    GLib.file_set_contents(file(`${stem}.pem`), both);
    made.push(`${stem}.crt`, `${stem}.key`, `${stem}.pem`);
    return both;
}

const pem = {
    default: makeCertificate('default', 'default.test'),
    default2: makeCertificate('default2', 'default.test'),
    a: makeCertificate('a', 'a.test'),
    wild: makeCertificate('wild', '*.wild.test'),
    late: makeCertificate('late', 'late.test'),
};
const certificate = stem => Gio.TlsCertificate.new_from_file(file(`${stem}.pem`));

// The default certificate in a file of its own, replaced during the test.
const watched = file('watched.pem');
GLib.file_set_contents(watched, pem.default);
made.push('watched.pem');
function replaceByRename(bytes) {
    GLib.file_set_contents(file('watched.tmp'), bytes);
    // rename(2), as Gio.File.move() does within a file system.
    Gio.File.new_for_path(file('watched.tmp')).move(
        Gio.File.new_for_path(watched), Gio.FileCopyFlags.OVERWRITE, null, null);
}

const service = new Usher.SocketService();
const settings = service.socket_settings;
settings.set_tls_certificate_files(watched, null);
settings.set_tls_certificate_for_name('a.test', certificate('a'));
settings.set_tls_certificate_files_for_name('*.wild.test', file('wild.pem'), null);
if (settings.tls_certificate_names.join() !== 'a.test,*.wild.test')
    fail(`tls-certificate-names: ${settings.tls_certificate_names}`);
if (settings.tls_certificate_file !== watched)
    fail(`tls-certificate-file: ${settings.tls_certificate_file}`);

// Waiters for the service's events, woken by them.
let waiters = [];
function wake() {
    const woken = waiters;
    waiters = [];
    woken.forEach(waiter => waiter());
}

const late = certificate('late');
service.connect('select-certificate', (_service, connection, hello) => {
    if (!(connection instanceof Gio.SocketConnection))
        fail('select-certificate without its connection');
    return hello.server_name === 'late.test' ? late : null;
});
const names = [];
service.connect('incoming', (_service, connection) => {
    names.push(Usher.ClientHello.get_for_connection(connection).server_name);
    connection.close(null);
    wake();
    return true;
});
const acceptErrors = [];
service.connect('accept-error', (_service, error) => acceptErrors.push(error.message));
const failures = [];
settings.connect('tls-certificate-reload-failed', (_settings, path, error) => {
    failures.push([path, error]);
    wake();
});
let swaps = 0;
settings.connect('notify::tls-certificate', () => {
    swaps++;
    wake();
});
const port = listenLoopback(service);

// The certificate the service serves a client asking for `name` (null: none).
async function servedTo(name) {
    const client = new Gio.SocketClient();
    const connection = await client.connect_async(
        Gio.NetworkAddress.new('127.0.0.1', port), null);
    const tls = Gio.TlsClientConnection.new(
        connection, name === null ? null : Gio.NetworkAddress.new(name, 443));
    tls.database = null;
    tls.connect('accept-certificate', () => true);
    // The backend's connection is a Gio.DtlsConnection too: say which handshake.
    await Gio.TlsConnection.prototype.handshake_async.call(tls, GLib.PRIORITY_DEFAULT, null);
    const served = tls.peer_certificate;
    tls.close(null);
    return served;
}

async function expectServed(name, stem) {
    const served = await servedTo(name);
    if (!served.is_same(certificate(stem)))
        fail(`${name} was served ${served.subject_name}, not ${stem}`);
}

// Resolves once `condition()` holds, checked at each of the service's events.
function until(condition) {
    return new Promise(resolve => {
        const check = () => (condition() ? resolve() : waiters.push(check));
        check();
    });
}

async function test() {
    await expectServed('a.test', 'a');
    await expectServed('x.wild.test', 'wild');
    await expectServed('late.test', 'late');
    await expectServed(null, 'default');
    await until(() => names.length === 4);
    if (names.join() !== 'a.test,x.wild.test,late.test,')
        fail(`the ClientHellos asked for ${names}`);

    const half = pem.default2.slice(0, pem.default2.length / 2);
    replaceByRename(half);
    await until(() => failures.length === 1);
    if (failures[0][0] !== watched)
        fail(`the failure names ${failures[0][0]}`);
    if (!failures[0][1].matches(Gio.tls_error_quark(), Gio.TlsError.BAD_CERTIFICATE))
        fail(`the failure says ${failures[0][1].message}`);
    await expectServed(null, 'default');

    replaceByRename(pem.default2);
    await until(() => swaps === 1);
    await expectServed(null, 'default2');
    if (acceptErrors.length !== 0)
        fail(`accept errors: ${acceptErrors}`);
}

const loop = new GLib.MainLoop(null, false);
test().then(() => loop.quit()).catch(error => fail(`${error}\n${error.stack}`));
runLoop(loop, 'the certificate tests');
for (const name of made)
    GLib.unlink(file(name));
GLib.rmdir(dir);
