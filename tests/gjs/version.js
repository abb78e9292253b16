// The library's version from JavaScript: Usher.get_major_version() and the others say the
// version meson built (USHER_VERSION, from tests/meson.build), and Usher.check_version() is
// null when compatible, else says why not, as Gtk.check_version().

import GLib from 'gi://GLib';
import Usher from 'gi://Usher?version=1';

import {fail} from './common.js';

const [major, minor, micro] = GLib.getenv('USHER_VERSION').split('.').map(Number);
const running = [Usher.get_major_version(), Usher.get_minor_version(), Usher.get_micro_version()];
if (running.join('.') !== [major, minor, micro].join('.'))
    fail(`the library says ${running.join('.')}, meson built ${major}.${minor}.${micro}`);

const checks = [
    [[major, minor, micro], null],
    [[0, 2, 0], null],
    [[major, minor, micro + 1], 'Usher version too old (micro mismatch)'],
    [[major, minor + 1, 0], 'Usher version too old (micro mismatch)'],
    [[major + 1, 0, 0], 'Usher version too old (major mismatch)'],
];
for (const [required, expected] of checks) {
    const said = Usher.check_version(...required);
    if (said !== expected)
        fail(`check_version(${required.join(', ')}) said ${said}, not ${expected}`);
}
