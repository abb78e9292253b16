/* Restart without dropping a client, from Vala: a service whose socket is named "web" hands it
 * over (yield hand_over_async ()) to a successor, another service on a thread of its own that
 * take_over ()s it, tags it by name and serves it once the predecessor has shut down. */

const uint DEADLINE = 30; /* seconds */

class Successor {
	public SocketAddress rendezvous;
	public MainContext context = new MainContext ();
	public uint added;
	public string? name;
	public int stop;

	public void run () {
		context.push_thread_default ();
		var service = new Usher.SocketService ();
		service.incoming.connect ((connection, source_object) => {
			try {
				connection.output_stream.write_all (("successor %s\n".printf (name)).data, null);
			} catch (Error e) {
				error ("cannot answer: %s", e.message);
			}
			return false;
		});
		try {
			added = service.take_over (rendezvous, null, (socket_name) => {
				name = socket_name;
				return new Object ();
			});
		} catch (Error e) {
			error ("cannot take over: %s", e.message);
		}
		/* Its context runs: it tells the predecessor it accepts, and serves. */
		while (AtomicInt.get (ref stop) == 0) {
			context.iteration (true);
		}
		service.close ();
		context.pop_thread_default ();
	}
}

async void restart (Usher.SocketService service, Successor successor, uint16 port) {
	try {
		var handed = yield service.hand_over_async (successor.rendezvous);
		assert (handed == 1);
		assert (successor.added == 1 && successor.name == "web");
		yield service.shutdown_async ();
		/* The successor alone serves the port now. */
		var client = new SocketClient ();
		client.timeout = DEADLINE;
		var connection = yield client.connect_to_host_async ("127.0.0.1", port);
		var line = yield new DataInputStream (connection.input_stream).read_line_async ();
		assert (line == "successor web");
	} catch (Error e) {
		error ("the handover failed: %s", e.message);
	}
}

int main () {
	var service = new Usher.SocketService ();
	var settings = new Usher.SocketSettings ();
	settings.name = "web";
	SocketAddress effective;
	try {
		service.add_address_full (new InetSocketAddress.from_string ("127.0.0.1", 0),
		                          SocketType.STREAM, SocketProtocol.TCP, null, settings,
		                          out effective);
	} catch (Error e) {
		error ("cannot listen: %s", e.message);
	}
	var successor = new Successor ();
	int pid = 0;
	try {
		pid = new Credentials ().get_unix_pid ();
	} catch (Error e) {
		error ("no pid: %s", e.message);
	}
	successor.rendezvous = new UnixSocketAddress.with_type (
		"usher-vala-test-%d".printf (pid), -1, UnixSocketAddressType.ABSTRACT);

	var loop = new MainLoop ();
	Timeout.add_seconds (DEADLINE, () => {
		error ("timed out");
	});
	restart.begin (service, successor, (uint16) ((InetSocketAddress) effective).port, (obj, res) => {
		restart.end (res);
		loop.quit ();
	});
	/* Listening once the handover began: the successor may start at once. */
	var thread = new Thread<void> ("successor", successor.run);
	loop.run ();
	AtomicInt.set (ref successor.stop, 1);
	successor.context.wakeup ();
	thread.join ();
	return 0;
}
