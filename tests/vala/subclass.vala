/* Subclassing Usher's services from Vala: `override bool incoming` and `override bool run`; and
 * the library's version through the vapi. */

class Greeter : Usher.SocketService {
	public int greeted;

	public override bool incoming (SocketConnection connection, Object? source_object) {
		try {
			connection.output_stream.write_all ("hello from Vala\n".data, null);
		} catch (Error e) {
			error ("%s", e.message);
		}
		greeted++;
		return false;
	}
}

class Echo : Usher.ThreadedSocketService {
	public Echo () {
		Object (max_threads: 2);
	}

	public override bool run (SocketConnection connection, Object? source_object) {
		try {
			var input = new DataInputStream (connection.input_stream);
			string line = input.read_line ();
			connection.output_stream.write_all ((line + "\n").data, null);
		} catch (Error e) {
			error ("%s", e.message);
		}
		return true;
	}
}

uint16 listen_loopback (SocketListener listener) throws Error {
	SocketAddress effective;
	listener.add_address (new InetSocketAddress (new InetAddress.loopback (SocketFamily.IPV4), 0),
	                      SocketType.STREAM, SocketProtocol.TCP, null, out effective);
	return (uint16) ((InetSocketAddress) effective).port;
}

async string exchange (uint16 port, string? line) throws Error {
	var connection = yield new SocketClient ().connect_to_host_async ("127.0.0.1", port);
	if (line != null) {
		yield connection.output_stream.write_all_async ((line + "\n").data, Priority.DEFAULT, null, null);
	}
	var input = new DataInputStream (connection.input_stream);
	return yield input.read_line_async ();
}

string exchange_sync (uint16 port, string? line) {
	var loop = new MainLoop ();
	string? reply = null;
	exchange.begin (port, line, (obj, result) => {
		try {
			reply = exchange.end (result);
		} catch (Error e) {
			error ("%s", e.message);
		}
		loop.quit ();
	});
	loop.run ();
	return reply;
}

async void shut_down (Usher.SocketService service, MainLoop loop) {
	try {
		yield service.shutdown_async ();
	} catch (Error e) {
		error ("%s", e.message);
	}
	loop.quit ();
}

int main () {
	try {
		var greeter = new Greeter ();
		var port = listen_loopback (greeter);
		assert (exchange_sync (port, null) == "hello from Vala");
		assert (greeter.greeted == 1);
		greeter.stop ();

		var echo = new Echo ();
		port = listen_loopback (echo);
		bool after = false;
		echo.run.connect_after (() => { after = true; return false; });
		assert (exchange_sync (port, "threaded") == "threaded");
		assert (!after); // run() returned true

		// A graceful shutdown from Vala: `yield`, with the cancellable left out.
		var loop = new MainLoop ();
		shut_down.begin (echo, loop);
		loop.run ();
		assert (!echo.is_active ());
		assert (echo.n_connections == 0);

		assert (Usher.check_version (0, 2, 0) == null);
		assert (Usher.check_version (Usher.get_major_version () + 1, 0, 0) ==
			"Usher version too old (major mismatch)");
	} catch (Error e) {
		error ("%s", e.message);
	}
	return 0;
}
