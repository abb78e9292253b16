/* The echo server from the documentation of GLib.SocketService, in Vala, on Usher.
 *
 *   echo-vala [PORT…]
 *
 * It listens on ports 1024 and 1025 (or the ones given), each tagged with a
 * Source object that carries its port, reads one line from each client, prints
 * it and echoes it back. Try `nc localhost 1024` (or the Python client in
 * README.md); the line "shutdown" stops the service and ends the program.
 *
 * The program is GLib's own but for the name `Usher.SocketService` and two
 * additions. One is Usher's own: Ctrl-C (SIGINT) or `kill` (SIGTERM) shuts
 * the service down gracefully. The other is for GLib: the ports are added
 * while the service is stopped. With `SocketService` instead of
 * `Usher.SocketService`, and without the Usher part (`-D GIO`), it builds and
 * runs against GIO alone, and the tests check that it behaves the same.
 */

public class Source : Object {
	public uint16 port { get; private set; }

	public Source (uint16 port) {
		this.port = port;
	}
}

async void handle_client (SocketConnection connection, Cancellable shutdown) {
	var input = new DataInputStream (connection.input_stream);
	var output = new DataOutputStream (connection.output_stream);
	try {
		string? line = yield input.read_line_async (Priority.DEFAULT, shutdown);
		if (line == null) {
			return;
		}
		line = line.strip ();
		stdout.printf ("Received: %s\n", line);

		output.put_string (line + "\n", shutdown);
		if (line == "shutdown") {
			shutdown.cancel ();
		}
	} catch (Error error) {
		stdout.printf ("Error: %s\n", error.message);
	}
}

#if !GIO
string clients (uint n) {
	return n == 1 ? "1 client" : @"$n clients";
}
#endif

int main (string[] args) {
	int[] ports = { 1024, 1025 };
	if (args.length > 1) {
		ports = {};
		foreach (unowned string arg in args[1:args.length]) {
			int port = int.parse (arg);
			if (port <= 0 || port > uint16.MAX) {
				stderr.printf ("usage: %s [PORT…]: %s is not a port\n", args[0], arg);
				return 1;
			}
			ports += port;
		}
	}

	var loop = new MainLoop ();
	var service = new Usher.SocketService ();
	// GLib's service, when a second port is added, cancels the accept it started on the first,
	// and a client that connected to the first port before the main loop runs is accepted by
	// that cancelled accept and dropped: adding the ports while stopped avoids that. Usher's
	// service does not need it.
	service.stop ();
	try {
		foreach (int port in ports) {
			service.add_inet_port ((uint16) port, new Source ((uint16) port));
		}
	} catch (Error error) {
		stdout.printf ("Error: %s\n", error.message);
		return 1;
	}

	var shutdown = new Cancellable ();
	shutdown.cancelled.connect (() => {
		service.stop ();
		loop.quit ();
	});

	service.incoming.connect ((connection, source_object) => {
		var source = source_object as Source;
		stdout.printf ("Accepted! (Source: %u)\n", source.port);
		handle_client.begin (connection, shutdown);
		return false;
	});

#if !GIO
	// Ctrl-C or `kill`: a graceful shutdown. The ports are freed at once, the clients being
	// served get their echo, then the program ends; a second signal disconnects them.
	bool shutting_down = false;
	SourceFunc shut_down_gracefully = () => {
		if (shutting_down) {
			stdout.printf ("Disconnecting %s.\n", clients (service.n_connections));
			service.close_connections ();
			return GLib.Source.CONTINUE;
		}
		shutting_down = true;
		// Closes the listening sockets at once; ends once every connection is closed.
		service.shutdown_async.begin (null, (obj, result) => {
			try {
				service.shutdown_async.end (result);
			} catch (Error error) {
				stderr.printf ("Cannot shut down: %s\n", error.message);
			}
			stdout.printf ("Shut down.\n");
			loop.quit ();
		});
		stdout.printf ("Shutting down: the ports are free, waiting for %s.\n",
			clients (service.n_connections));
		return GLib.Source.CONTINUE;
	};
	Unix.signal_add (ProcessSignal.INT, () => shut_down_gracefully ());
	Unix.signal_add (ProcessSignal.TERM, () => shut_down_gracefully ());
#endif

	service.start ();
	loop.run ();
	return 0;
}
