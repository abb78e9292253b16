/* The echo server from the documentation of GLib.SocketService, in C, on Usher.
 *
 *   echo-c [PORT…]
 *
 * It listens on ports 1024 and 1025 (or the ones given), each tagged with an
 * EchoSource object that carries its port, reads one line from each client,
 * prints it and echoes it back. Try `nc localhost 1024` (or the Python client
 * in README.md); the line "shutdown" stops the service and ends the program.
 *
 * Written for GSocketService, it would differ only in the names of the type
 * and of its functions, but for one addition of Usher's: Ctrl-C (SIGINT) or
 * `kill` (SIGTERM) shuts the service down gracefully with
 * usher_socket_service_shutdown_async(): the ports are freed at once, the
 * clients being served get their echo, then the program ends. A second signal
 * disconnects them.
 */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <glib-unix.h>
#include <usher/usher.h>

/* The source_object of a listening socket: which port a client came in on. */
#define ECHO_TYPE_SOURCE (echo_source_get_type ())
G_DECLARE_FINAL_TYPE (EchoSource, echo_source, ECHO, SOURCE, GObject)

struct _EchoSource
{
  GObject parent_instance;
  guint16 port;
};

G_DEFINE_TYPE (EchoSource, echo_source, G_TYPE_OBJECT)

static void echo_source_class_init (EchoSourceClass *klass) { }
static void echo_source_init (EchoSource *self) { }

static EchoSource *
echo_source_new (guint16 port)
{
  EchoSource *source = g_object_new (ECHO_TYPE_SOURCE, NULL);
  source->port = port;
  return source;
}

/* One client: its connection, while its line is read. */
typedef struct
{
  GSocketConnection *connection;
  GCancellable *shutdown;
} Client;

static void
client_free (Client *client)
{
  g_object_unref (client->connection);
  g_object_unref (client->shutdown);
  g_free (client);
}

static void
line_read (GObject *stream, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (stream),
                                                                     result, NULL, &error);
  if (line == NULL)
    {
      if (error != NULL)
        g_print ("Error: %s\n", error->message);
      client_free (client);
      return;
    }

  g_strstrip (line);
  g_print ("Received: %s\n", line);

  g_autofree char *reply = g_strconcat (line, "\n", NULL);
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (client->connection));
  if (!g_output_stream_write_all (output, reply, strlen (reply), NULL, NULL, &error))
    g_print ("Error: %s\n", error->message);

  if (g_str_equal (line, "shutdown"))
    g_cancellable_cancel (client->shutdown);

  client_free (client);
}

static gboolean
incoming (UsherSocketService *service,
          GSocketConnection  *connection,
          GObject            *source_object,
          gpointer            user_data)
{
  GCancellable *shutdown = user_data;
  EchoSource *source = ECHO_SOURCE (source_object);

  g_print ("Accepted! (Source: %u)\n", source->port);

  Client *client = g_new0 (Client, 1);
  client->connection = g_object_ref (connection);
  client->shutdown = g_object_ref (shutdown);
  g_autoptr(GDataInputStream) input =
    g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_read_line_async (input, G_PRIORITY_DEFAULT, NULL, line_read, client);

  return FALSE;
}

typedef struct
{
  UsherSocketService *service;
  GMainLoop *loop;
  gboolean shutting_down;
} Program;

static void
shut_down (GCancellable *cancellable, gpointer user_data)
{
  Program *program = user_data;

  usher_socket_service_stop (program->service);
  g_main_loop_quit (program->loop);
}

static void
shut_down_gracefully_done (GObject *service, GAsyncResult *result, gpointer user_data)
{
  Program *program = user_data;
  g_autoptr(GError) error = NULL;

  if (!usher_socket_service_shutdown_finish (USHER_SOCKET_SERVICE (service), result, &error))
    g_printerr ("Cannot shut down: %s\n", error->message);
  g_print ("Shut down.\n");
  g_main_loop_quit (program->loop);
}

/* SIGINT or SIGTERM: a graceful shutdown, then, on a second signal, disconnect the clients. */
static gboolean
shut_down_gracefully (gpointer user_data)
{
  Program *program = user_data;
  guint clients = usher_socket_service_get_n_connections (program->service);

  if (program->shutting_down)
    {
      g_print ("Disconnecting %u %s.\n", clients, clients == 1 ? "client" : "clients");
      usher_socket_service_close_connections (program->service);
      return G_SOURCE_CONTINUE;
    }

  program->shutting_down = TRUE;
  /* Closes the listening sockets before it returns; calls back once every connection is closed. */
  usher_socket_service_shutdown_async (program->service, NULL, shut_down_gracefully_done, program);
  g_print ("Shutting down: the ports are free, waiting for %u %s.\n",
           clients, clients == 1 ? "client" : "clients");
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  const char *default_ports[] = { "1024", "1025" };
  const char **ports = argc > 1 ? (const char **) argv + 1 : default_ports;
  int n_ports = argc > 1 ? argc - 1 : (int) G_N_ELEMENTS (default_ports);

  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();

  for (int i = 0; i < n_ports; i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 port;

      if (!g_ascii_string_to_unsigned (ports[i], 10, 1, G_MAXUINT16, &port, &error))
        {
          g_printerr ("usage: echo-c [PORT…]: %s\n", error->message);
          return EXIT_FAILURE;
        }

      g_autoptr(EchoSource) source = echo_source_new (port);
      if (!g_socket_listener_add_inet_port (G_SOCKET_LISTENER (service), port,
                                            G_OBJECT (source), &error))
        {
          g_printerr ("Cannot listen on port %s: %s\n", ports[i], error->message);
          return EXIT_FAILURE;
        }
    }

  g_autoptr(GCancellable) shutdown = g_cancellable_new ();
  Program program = { service, loop, FALSE };
  g_signal_connect (shutdown, "cancelled", G_CALLBACK (shut_down), &program);
  g_signal_connect (service, "incoming", G_CALLBACK (incoming), shutdown);

  guint sigint = g_unix_signal_add (SIGINT, shut_down_gracefully, &program);
  guint sigterm = g_unix_signal_add (SIGTERM, shut_down_gracefully, &program);

  usher_socket_service_start (service);
  g_main_loop_run (loop);

  g_source_remove (sigint);
  g_source_remove (sigterm);

  return EXIT_SUCCESS;
}
