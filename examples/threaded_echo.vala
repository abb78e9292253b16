/* The threaded echo server from the documentation of GLib.ThreadedSocketService, in Vala,
 * on Usher: the handler runs in a worker thread and reads its line with a blocking call.
 *
 *   threaded-echo-vala [PORT…]
 *
 * It listens on ports 1024 and 1025 (or the ones given), each tagged with a Source object that
 * carries its port. Try `nc localhost 1024` (or the Python client in README.md); the line
 * "shutdown" stops the service and ends the program.
 */

public class Source : Object {
	public uint16 port { get; private set; }

	public Source (uint16 port) {
		this.port = port;
	}
}

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
	var service = new Usher.ThreadedSocketService (10);
	try {
		foreach (int port in ports) {
			service.add_inet_port ((uint16) port, new Source ((uint16) port));
		}
	} catch (Error error) {
		stdout.printf ("Error: %s\n", error.message);
		return 1;
	}

	// Cancelled from a worker thread: start() and stop() are thread-safe.
	var shutdown = new Cancellable ();
	shutdown.cancelled.connect (() => {
		service.stop ();
		loop.quit ();
	});

	service.run.connect ((connection, source_object) => {
		var source = source_object as Source;
		stdout.printf ("Accepted! (Source: %u)\n", source.port);
		try {
			var input = new DataInputStream (connection.input_stream);
			string? line = input.read_line (null, shutdown);
			if (line == null) {
				return false;
			}
			line = line.strip ();
			stdout.printf ("Received: %s\n", line);
			connection.output_stream.write_all ((line + "\n").data, null, shutdown);
			if (line == "shutdown") {
				shutdown.cancel ();
				return true;
			}
		} catch (Error error) {
			stdout.printf ("Error: %s\n", error.message);
		}
		return false;
	});

	service.start ();
	loop.run ();
	return 0;
}
