/* TLS from Vala: an Usher.SocketService with tls_certificate (a self-signed certificate for
 * localhost and 127.0.0.1, made by openssl in a temporary directory) echoes a line
 * asynchronously to a SocketClient with `tls` set, which trusts the certificate from its
 * accept-certificate handler; then a graceful shutdown. The service overrides select_certificate,
 * so it reads the client's ClientHello. */

const string LINE = "hello over TLS from Vala";
const uint DEADLINE = 30; /* seconds */

TlsCertificate make_certificate () throws Error {
	var dir = DirUtils.make_tmp ("usher-vala-tls-XXXXXX");
	var cert_file = Path.build_filename (dir, "cert.pem");
	var key_file = Path.build_filename (dir, "key.pem");
	string[] argv = {
		"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-nodes", "-days", "2", "-subj", "/CN=localhost",
		"-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
		"-keyout", key_file, "-out", cert_file
	};
	string err;
	int status;
	Process.spawn_sync (dir, argv, null, SpawnFlags.SEARCH_PATH | SpawnFlags.STDOUT_TO_DEV_NULL,
	                    null, null, out err, out status);
	if (!Process.check_wait_status (status)) {
		error ("openssl failed: %s", err);
	}
	var certificate = new TlsCertificate.from_files (cert_file, key_file);
	FileUtils.unlink (cert_file);
	FileUtils.unlink (key_file);
	DirUtils.remove (dir);
	return certificate;
}

class TlsEcho : Usher.SocketService {
	public string? served;
	public bool wrapped_tls;
	public int accept_errors;
	public int selections;
	public bool hello_read;

	public TlsEcho (TlsCertificate certificate) {
		Object (tls_certificate: certificate);
		accept_error.connect ((e) => {
			printerr ("accept-error: %s\n", e.message);
			accept_errors++;
		});
	}

	/* The settings choose: by name, else tls_certificate. */
	public override TlsCertificate? select_certificate (SocketConnection connection,
	                                                    Usher.ClientHello client_hello) {
		selections++;
		return null;
	}

	public override bool incoming (SocketConnection connection, Object? source_object) {
		var hello = Usher.ClientHello.get_for_connection (connection);
		/* By address: no name, or the address (glib-networking 2.74 sends it, against RFC 6066). */
		hello_read = hello != null && (hello.server_name == null || hello.server_name == "127.0.0.1");
		var wrapper = connection as TcpWrapperConnection;
		wrapped_tls = wrapper != null && wrapper.base_io_stream is TlsServerConnection;
		echo.begin (connection);
		return false;
	}

	async void echo (SocketConnection connection) {
		try {
			var input = new DataInputStream (connection.input_stream);
			served = yield input.read_line_async ();
			yield connection.output_stream.write_all_async ((served + "\n").data,
			                                                Priority.DEFAULT, null, null);
			yield connection.close_async ();
		} catch (Error e) {
			error ("the server's echo failed: %s", e.message);
		}
	}
}

async string exchange (uint16 port, TlsCertificate expected, out TlsCertificateFlags flags)
		throws Error {
	var client = new SocketClient ();
	client.tls = true;
	bool asked = false;
	TlsCertificateFlags seen = 0;
	client.event.connect ((event, connectable, connection) => {
		if (event == SocketClientEvent.TLS_HANDSHAKING) {
			((TlsClientConnection) connection).accept_certificate.connect ((peer, errors) => {
				asked = true;
				seen = errors;
				return peer.is_same (expected);
			});
		}
	});
	var connection = yield client.connect_to_host_async ("127.0.0.1", port);
	assert (asked);
	assert (((TcpWrapperConnection) connection).base_io_stream is TlsClientConnection);
	yield connection.output_stream.write_all_async ((LINE + "\n").data, Priority.DEFAULT,
	                                                null, null);
	var input = new DataInputStream (connection.input_stream);
	var line = yield input.read_line_async ();
	yield connection.close_async ();
	flags = seen;
	return line;
}

void run_until (MainLoop loop, string what) {
	var timeout = Timeout.add_seconds (DEADLINE, () => {
		error ("timed out: %s", what);
	});
	loop.run ();
	Source.remove (timeout);
}

int main () {
	try {
		var certificate = make_certificate ();
		var service = new TlsEcho (certificate);
		assert (service.tls_certificate.is_same (certificate));
		service.socket_settings.set_tls_certificate_for_name ("localhost", certificate);
		assert (service.socket_settings.tls_certificate_names[0] == "localhost");
		SocketAddress effective;
		service.add_address (new InetSocketAddress (new InetAddress.loopback (SocketFamily.IPV4), 0),
		                     SocketType.STREAM, SocketProtocol.TCP, null, out effective);
		var port = (uint16) ((InetSocketAddress) effective).port;

		var loop = new MainLoop ();
		string? echoed = null;
		TlsCertificateFlags flags = 0;
		exchange.begin (port, certificate, (obj, result) => {
			try {
				echoed = exchange.end (result, out flags);
			} catch (Error e) {
				error ("the client failed: %s", e.message);
			}
			loop.quit ();
		});
		run_until (loop, "no echo");
		assert (echoed == LINE);
		assert (service.served == LINE);
		assert (service.wrapped_tls);
		assert (TlsCertificateFlags.UNKNOWN_CA in flags);
		assert (service.accept_errors == 0);
		assert (service.selections == 1);
		assert (service.hello_read);

		service.shutdown_async.begin (null, (obj, result) => {
			try {
				assert (service.shutdown_async.end (result));
			} catch (Error e) {
				error ("the shutdown failed: %s", e.message);
			}
			loop.quit ();
		});
		run_until (loop, "the shutdown did not complete");
		assert (!service.is_active ());
		assert (service.n_connections == 0);
	} catch (Error e) {
		error ("%s", e.message);
	}
	print ("Vala TLS echo: echoed a line over TLS and shut down\n");
	return 0;
}
