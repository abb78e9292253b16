/* The echo server from the documentation of GLib.SocketService, in Vala, on Usher.
 *
 * It listens on ports 1024 and 1025, each tagged with a Source object that
 * carries its port, reads one line from each client, prints it and echoes it
 * back. Try `telnet localhost 1024`; the line "shutdown" stops the service and
 * ends the program.
 *
 * The program is GLib's own but for one name: with `SocketService` instead of
 * `Usher.SocketService`, it builds and runs against GIO alone (the tests check).
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

int main () {
	var loop = new MainLoop ();
	var service = new Usher.SocketService ();
	try {
		service.add_inet_port (1024, new Source (1024));
		service.add_inet_port (1025, new Source (1025));
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

	service.start ();
	loop.run ();
	return 0;
}
