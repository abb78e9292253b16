#!/usr/bin/python3
"""The PROXY protocol through PyGObject: the proxy-protocol-* properties and their
notifications, try_set_proxy_protocol_peers() raising GLib.Error, v1 and v2 headers from a
Python client and what Usher.ProxyInfo says of them, a forged header from an untrusted address,
a shutdown that serves a client still in its header, and a subclass that reads the info in
do_incoming."""

import socket
import struct
import unittest

import gi

gi.require_version("Gio", "2.0")
gi.require_version("Usher", "1")
from gi.repository import Gio, GLib, Usher  # noqa: E402

from common import DEADLINE, iterate_until, listen_loopback, read_to_end  # noqa: E402

V2_SIGNATURE = b"\r\n\r\n\0\r\nQUIT\n"


def v2_header(source, destination, tlvs=()):
    """A v2 PROXY header for TCP over IPv4 from source to destination, (host, port) pairs, with
    the (type, value) TLVs."""
    addresses = (socket.inet_aton(source[0]) + socket.inet_aton(destination[0])
                 + struct.pack("!HH", source[1], destination[1]))
    rest = addresses + b"".join(struct.pack("!BH", kind, len(value)) + value
                                for kind, value in tlvs)
    return V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", len(rest)) + rest


def send(port, data, source="127.0.0.1"):
    """A client from source that sends data; the caller closes it."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.settimeout(DEADLINE)
    client.bind((source, 0))
    client.connect(("127.0.0.1", port))
    client.sendall(data)
    return client


def inet(address):
    """(host, port) of a Gio.InetSocketAddress."""
    return address.get_address().to_string(), address.get_port()


class Proxied(unittest.TestCase):
    def serve(self, service=None, peers=("127.0.0.1",)):
        """service (a new Usher.SocketService by default) trusting peers, on a free port; it
        echoes the first line of each connection and keeps, in self.served, each connection's
        info and the line it read. Returns the port."""
        self.service = service or Usher.SocketService()
        self.service.try_set_proxy_protocol_peers(list(peers))
        self.served = []
        self.errors = []
        self.service.connect("accept-error", lambda service, error: self.errors.append(error))
        if service is None:
            self.service.connect("incoming", self.echo_first_line)
        port = listen_loopback(self.service)
        self.addCleanup(self.service.close)
        return port

    def echo_first_line(self, service, connection, source_object):
        served = {"info": Usher.ProxyInfo.get_for_connection(connection)}
        self.served.append(served)
        lines = Gio.DataInputStream.new(connection.get_input_stream())

        def read(stream, result):
            line, _ = stream.read_line_finish_utf8(result)
            served["line"] = line
            connection.get_output_stream().write_all((line + "\n").encode(), None)
            connection.close(None)

        lines.read_line_async(GLib.PRIORITY_DEFAULT, None, read)
        return False

    def exchange(self, port, data, source="127.0.0.1"):
        """Sends data, waits for the first line to be served, and returns what was served and
        what the client got back."""
        client = send(port, data, source)
        self.addCleanup(client.close)
        count = len(self.served) + 1
        iterate_until(lambda: len(self.served) == count and "line" in self.served[-1])
        return self.served[-1], read_to_end(client)

    def test_properties_get_set_and_notify_on_change_only(self):
        service = Usher.SocketService()
        # The getter's NULL for none reaches Python as an empty list, as the property does.
        self.assertEqual(service.props.proxy_protocol_peers, [])
        self.assertEqual(service.get_proxy_protocol_peers(), [])
        self.assertTrue(service.props.proxy_protocol_required)
        self.assertEqual(service.props.proxy_protocol_timeout, 5)
        notified = []
        service.connect("notify", lambda service, pspec: notified.append(pspec.name))

        service.props.proxy_protocol_peers = ["127.0.0.1", "10.0.0.0/8"]
        service.props.proxy_protocol_peers = ["127.0.0.1", "10.0.0.0/8"]
        self.assertEqual(service.get_proxy_protocol_peers(), ["127.0.0.1", "10.0.0.0/8"])
        service.set_proxy_protocol_required(False)
        service.props.proxy_protocol_required = False
        self.assertFalse(service.get_proxy_protocol_required())
        service.set_proxy_protocol_timeout(0)
        service.props.proxy_protocol_timeout = 0
        self.assertEqual(service.props.proxy_protocol_timeout, 0)
        self.assertEqual(notified, ["proxy-protocol-peers", "proxy-protocol-required",
                                    "proxy-protocol-timeout"])

        with self.assertRaises(GLib.Error) as raised:
            service.try_set_proxy_protocol_peers(["192.0.2.1", "10.1.2.3/8"])
        self.assertTrue(raised.exception.matches(Gio.io_error_quark(),
                                                 Gio.IOErrorEnum.INVALID_ARGUMENT))
        self.assertIn("10.1.2.3/8", raised.exception.message)
        self.assertEqual(service.props.proxy_protocol_peers, ["127.0.0.1", "10.0.0.0/8"])
        self.assertEqual(len(notified), 3)

        service.try_set_proxy_protocol_peers([])
        self.assertEqual(service.get_proxy_protocol_peers(), [])
        self.assertEqual(notified[3:], ["proxy-protocol-peers"])

    def test_a_v1_header_gives_the_clients_addresses(self):
        port = self.serve()
        served, reply = self.exchange(port, b"PROXY TCP4 192.0.2.9 192.0.2.1 5555 80\r\nhello\n")
        self.assertEqual(reply, b"hello\n")
        self.assertEqual(served["line"], "hello")
        info = served["info"]
        self.assertIsInstance(info, Usher.ProxyInfo)
        self.assertEqual(info.get_version(), 1)
        self.assertEqual(info.props.command, Usher.ProxyCommand.PROXY)
        self.assertIsInstance(info.get_source_address(), Gio.InetSocketAddress)
        self.assertEqual(inet(info.get_source_address()), ("192.0.2.9", 5555))
        self.assertEqual(inet(info.props.destination_address), ("192.0.2.1", 80))
        self.assertEqual(inet(info.get_proxy_address())[0], "127.0.0.1")
        self.assertIsNone(info.get_alpn())
        self.assertIsNone(info.props.authority)
        self.assertIsNone(info.get_unique_id())
        self.assertIsNone(info.get_tlv(0x01))
        self.assertEqual(self.errors, [])

    def test_a_shutdown_serves_a_client_still_in_its_header(self):
        port = self.serve()
        self.service.props.proxy_protocol_timeout = 0
        client = send(port, b"PROXY TCP4 ")
        self.addCleanup(client.close)
        iterate_until(lambda: self.service.props.n_accepted == 1)
        done = []
        self.service.shutdown_async(
            None, lambda service, result: done.append(service.shutdown_finish(result)))
        refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with self.assertRaises(ConnectionRefusedError):
            refused.connect(("127.0.0.1", port))
        refused.close()
        # The rest of its header, after the shutdown began: served all the same.
        client.sendall(b"192.0.2.9 192.0.2.1 5555 80\r\nstill served\n")
        iterate_until(lambda: self.served and "line" in self.served[-1])
        self.assertEqual(read_to_end(client), b"still served\n")
        self.assertEqual(inet(self.served[0]["info"].get_source_address()), ("192.0.2.9", 5555))
        iterate_until(lambda: done)
        self.assertEqual(done, [True])
        self.assertEqual(self.errors, [])

    def test_a_v2_header_gives_its_addresses_and_tlvs(self):
        port = self.serve()
        header = v2_header(("198.51.100.7", 40000), ("203.0.113.1", 443),
                           [(0x01, b"h2"), (0x02, b"app.example"), (0x05, b"id-42"),
                            (0xE1, b"\x00\xffapp")])
        served, reply = self.exchange(port, header + b"hello v2\n")
        self.assertEqual(reply, b"hello v2\n")
        info = served["info"]
        self.assertEqual(info.props.version, 2)
        self.assertEqual(info.get_command(), Usher.ProxyCommand.PROXY)
        self.assertEqual(inet(info.get_source_address()), ("198.51.100.7", 40000))
        self.assertEqual(inet(info.get_destination_address()), ("203.0.113.1", 443))
        self.assertEqual(info.get_alpn(), "h2")
        self.assertEqual(info.props.alpn, "h2")
        self.assertEqual(info.get_authority(), "app.example")
        self.assertEqual(info.get_unique_id().get_data(), b"id-42")
        self.assertEqual(info.props.unique_id.get_data(), b"id-42")
        self.assertEqual(info.get_tlv(0xE1).get_data(), b"\x00\xffapp")
        self.assertIsNone(info.get_tlv(0xE2))

    def test_a_v2_local_header_keeps_the_sockets_addresses(self):
        port = self.serve()
        served, reply = self.exchange(port, V2_SIGNATURE + b"\x20\x00\x00\x00ping\n")
        self.assertEqual(reply, b"ping\n")
        info = served["info"]
        self.assertEqual(info.get_version(), 2)
        self.assertEqual(info.get_command(), Usher.ProxyCommand.LOCAL)
        self.assertEqual(inet(info.get_source_address()), inet(info.get_proxy_address()))
        self.assertEqual(inet(info.get_destination_address()), ("127.0.0.1", port))

    def test_a_forged_header_from_an_untrusted_address_is_refused(self):
        port = self.serve()
        client = send(port, b"PROXY TCP4 6.6.6.6 192.0.2.1 666 80\r\nhello\n", "127.0.0.2")
        self.addCleanup(client.close)
        iterate_until(lambda: self.errors)
        self.assertEqual(read_to_end(client), b"")
        error = self.errors[0]
        self.assertTrue(error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PERMISSION_DENIED),
                        error.message)
        self.assertIn("127.0.0.2", error.message)
        self.assertEqual(self.served, [])

        # Without a header, the same address is an ordinary client, with no info.
        served, reply = self.exchange(port, b"direct\n", "127.0.0.2")
        self.assertEqual(reply, b"direct\n")
        self.assertIsNone(served["info"])
        self.assertEqual(len(self.errors), 1)

    def test_a_subclass_reads_the_info_in_do_incoming(self):
        test = self

        class Greeter(Usher.SocketService):
            def do_incoming(self, connection, source_object):
                info = Usher.ProxyInfo.get_for_connection(connection)
                client = inet(info.get_source_address())
                test.served.append({"info": info, "line": "%s:%d" % client})
                connection.get_output_stream().write_all(b"hello %s\n" % client[0].encode(),
                                                         None)
                connection.close(None)
                return False

        port = self.serve(Greeter())
        served, reply = self.exchange(port, b"PROXY TCP4 192.0.2.44 192.0.2.1 4444 80\r\n")
        self.assertEqual(reply, b"hello 192.0.2.44\n")
        self.assertEqual(served["line"], "192.0.2.44:4444")
        self.assertEqual(self.errors, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
