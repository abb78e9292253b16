/* Abuse resistance from C: the per-peer cap, the I/O timeout, TCP_NODELAY, and the listen
 * backlog a burst of clients needs. */

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>

#include "loopback.h"
#include "wait.h"

static char *
remote_address (GSocketConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, &error);

  g_assert_no_error (error);
  return g_inet_address_to_string (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
}

/* At max-connections-per-peer 1, a second client from 127.0.0.1 is refused, named in
 * accept-error, while the first is held; a client from 127.0.0.2 is served. */
static void
test_max_connections_per_peer (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GSocketConnection) first = NULL;
  g_autoptr(GSocketConnection) refused = NULL;
  g_autoptr(GSocketConnection) other_peer = NULL;
  g_autoptr(GError) error = NULL;
  guint per_peer = 0;

  usher_socket_service_set_max_connections_per_peer (service, 1);
  g_assert_cmpuint (usher_socket_service_get_max_connections_per_peer (service), ==, 1);
  g_object_get (service, "max-connections-per-peer", &per_peer, NULL);
  g_assert_cmpuint (per_peer, ==, 1);
  g_signal_connect (service, "incoming", G_CALLBACK (hold_all), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (record_error), &error);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  connect_from ("127.0.0.1", port, connected_into, &first);
  WAIT_UNTIL (held->len == 1 && first != NULL);

  connect_from ("127.0.0.1", port, connected_into, &refused);
  WAIT_UNTIL (error != NULL && refused != NULL);
  g_assert_true (error->domain == G_IO_ERROR);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
  g_assert_cmpuint (usher_socket_service_get_n_accept_errors (service), ==, 1);
  g_assert_cmpuint (held->len, ==, 1);

  connect_from ("127.0.0.2", port, connected_into, &other_peer);
  WAIT_UNTIL (held->len == 2 && other_peer != NULL);
  g_autofree char *first_peer = remote_address (held->pdata[0]);
  g_autofree char *second_peer = remote_address (held->pdata[1]);
  g_assert_cmpstr (first_peer, ==, "127.0.0.1");
  g_assert_cmpstr (second_peer, ==, "127.0.0.2");
  g_assert_cmpuint (usher_socket_service_get_n_accept_errors (service), ==, 1);
  usher_socket_service_stop (service);
}

typedef struct
{
  GSocketConnection *connection;
  guint8 buffer[16];
  gint64 started;
  gint64 ended;
  GError *error;
  gboolean done;
} SilentRead;

static void
read_ended (GObject *input, GAsyncResult *result, gpointer data)
{
  SilentRead *read = data;

  g_assert_cmpint (g_input_stream_read_finish (G_INPUT_STREAM (input), result, &read->error), ==, -1);
  read->ended = g_get_monotonic_time ();
  read->done = TRUE;
}

static gboolean
read_from_silent_client (UsherSocketService *service, GSocketConnection *connection,
                         GObject *source_object, SilentRead *read)
{
  read->connection = g_object_ref (connection);
  read->started = g_get_monotonic_time ();
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (connection)), read->buffer,
                             sizeof read->buffer, G_PRIORITY_DEFAULT, NULL, read_ended, read);
  return TRUE;
}

/* At timeout 1, an asynchronous read from a client that says nothing fails with
 * G_IO_ERROR_TIMED_OUT after about a second, so that an ordinary handler frees its slot. */
static void
test_timeout (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GSocketConnection) silent = NULL;
  SilentRead read = { NULL };
  guint timeout = 0;

  usher_socket_service_set_timeout (service, 1);
  g_assert_cmpuint (usher_socket_service_get_timeout (service), ==, 1);
  g_object_get (service, "timeout", &timeout, NULL);
  g_assert_cmpuint (timeout, ==, 1);
  g_signal_connect (service, "incoming", G_CALLBACK (read_from_silent_client), &read);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  connect_to (port, connected_into, &silent);
  WAIT_UNTIL (read.done);
  g_assert_error (read.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (read.ended - read.started, >=, 900 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (read.ended - read.started, <, 5 * G_TIME_SPAN_SECOND);
  g_clear_error (&read.error);
  g_clear_object (&read.connection);
  usher_socket_service_stop (service);
}

static gboolean
read_nodelay (UsherSocketService *service, GSocketConnection *connection, GObject *source_object,
              int *nodelay)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_socket_get_option (g_socket_connection_get_socket (connection), IPPROTO_TCP,
                                      TCP_NODELAY, nodelay, &error));
  g_assert_no_error (error);
  return TRUE;
}

/* Accepted sockets have Nagle's algorithm off, so that small replies are not delayed. */
static void
test_tcp_nodelay (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GSocketConnection) client = NULL;
  int nodelay = -1;

  g_signal_connect (service, "incoming", G_CALLBACK (read_nodelay), &nodelay);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  connect_to (port, connected_into, &client);
  WAIT_UNTIL (nodelay != -1 && client != NULL);
  g_assert_cmpint (nodelay, !=, 0);
  usher_socket_service_stop (service);
}

static void
record_backlog (GSocketListener *listener, GSocketListenerEvent event, GSocket *socket,
                int *backlog)
{
  if (event == G_SOCKET_LISTENER_LISTENED)
    *backlog = g_socket_get_listen_backlog (socket);
}

/* The backlog the kernel reports (ss's Send-Q) for the socket listening on @port, or -1
 * without ss. */
static int
kernel_backlog (guint16 port)
{
  g_autofree char *ss = g_find_program_in_path ("ss");
  g_autofree char *filter = g_strdup_printf ("sport = :%u", port);
  g_autofree char *output = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) columns = NULL;
  int status = 0;

  if (ss == NULL)
    return -1;
  const char *argv[] = { ss, "-ltnH", filter, NULL };
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &output, NULL,
                &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    return -1;
  /* State, Recv-Q, Send-Q, local address, peer address. */
  columns = g_regex_split_simple ("\\s+", g_strstrip (output), 0, 0);
  g_assert_cmpuint (g_strv_length (columns), ==, 5);
  g_assert_cmpstr (columns[0], ==, "LISTEN");
  return atoi (columns[2]);
}

/* The backlog @service listens with on a new socket, asserting the kernel agrees. */
static int
listen_backlog (UsherSocketService *service)
{
  int backlog = -1;
  gulong handler = g_signal_connect (service, "event", G_CALLBACK (record_backlog), &backlog);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  int in_kernel = kernel_backlog (port);

  g_signal_handler_disconnect (service, handler);
  g_assert_cmpint (backlog, >, 0);
  if (in_kernel != -1)
    g_assert_cmpint (in_kernel, ==, backlog);
  return backlog;
}

/* Stops @service and drops the last reference to it; it is then finalized on its context. */
static void
discard (UsherSocketService *service)
{
  UsherSocketService *weak = service;

  g_object_add_weak_pointer (G_OBJECT (service), (gpointer *) &weak);
  usher_socket_service_stop (service);
  g_object_unref (service);
  WAIT_UNTIL (weak == NULL);
}

/* GLib's default backlog of 10 overflows at once under a burst of clients: unless the
 * application chose one, the service listens with the system's maximum, somaxconn. */
static void
test_default_backlog (void)
{
  g_autofree char *somaxconn = NULL;

  if (!g_file_get_contents ("/proc/sys/net/core/somaxconn", &somaxconn, NULL, NULL))
    {
      g_test_skip ("no /proc/sys/net/core/somaxconn");
      return;
    }

  UsherSocketService *service = usher_socket_service_new ();
  int backlog = listen_backlog (service);
  discard (service);
  /* GSocketListener:listen-backlog is G_PARAM_CONSTRUCT: g_object_new() sets and notifies it,
   * which must not count as the application's choice. */
  g_assert_cmpint (backlog, ==, atoi (somaxconn));
}

/* A backlog the application chose is honoured: any through the property after construction,
 * GLib's 10 included, and any other than 10 at construction or through
 * g_socket_listener_set_backlog(). GLib's 10 given to g_object_new() cannot be told from its
 * default, which GObject sets the same way: it counts as the default, as documented. */
static void
test_chosen_backlog (void)
{
  UsherSocketService *property = usher_socket_service_new ();
  g_object_set (property, "listen-backlog", 50, NULL);
  g_assert_cmpint (listen_backlog (property), ==, 50);
  discard (property);

  UsherSocketService *glib_default = usher_socket_service_new ();
  g_object_set (glib_default, "listen-backlog", 10, NULL);
  g_assert_cmpint (listen_backlog (glib_default), ==, 10);
  discard (glib_default);

  UsherSocketService *constructed = g_object_new (USHER_TYPE_SOCKET_SERVICE,
                                                  "listen-backlog", 30, NULL);
  g_assert_cmpint (listen_backlog (constructed), ==, 30);
  discard (constructed);

  UsherSocketService *setter = usher_socket_service_new ();
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (setter), 20);
  g_assert_cmpint (listen_backlog (setter), ==, 20);
  discard (setter);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/abuse/max-connections-per-peer", test_max_connections_per_peer);
  g_test_add_func ("/abuse/timeout", test_timeout);
  g_test_add_func ("/abuse/tcp-nodelay", test_tcp_nodelay);
  g_test_add_func ("/abuse/default-backlog", test_default_backlog);
  g_test_add_func ("/abuse/chosen-backlog", test_chosen_backlog);
  return g_test_run ();
}
