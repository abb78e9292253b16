/* UsherSocketService from C: a subclass, handlers, threads, and misuse. */

#include "loopback.h"

/* A client that connects to @port on loopback and reads one line. */
typedef struct
{
  char *line;
  gboolean done;
} Client;

static void
client_read (GObject *stream, GAsyncResult *result, gpointer user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;

  client->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (stream), result,
                                                            NULL, &error);
  g_assert_no_error (error);
  client->done = TRUE;
  g_main_context_wakeup (NULL);
}

static void
client_connected (GObject *socket_client, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_finish (G_SOCKET_CLIENT (socket_client), result, &error);
  g_assert_no_error (error);

  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  g_autoptr(GDataInputStream) lines = g_data_input_stream_new (input);
  /* The read holds the stream, and the stream its connection's socket open. */
  g_object_set_data_full (G_OBJECT (lines), "connection", g_object_ref (connection), g_object_unref);
  g_data_input_stream_read_line_async (lines, G_PRIORITY_DEFAULT, NULL, client_read, user_data);
}

static char *
read_line_from (guint16 port)
{
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) address = g_network_address_new ("127.0.0.1", port);
  Client client = { NULL, FALSE };

  g_socket_client_connect_async (socket_client, address, NULL, client_connected, &client);
  while (!client.done)
    g_main_context_iteration (NULL, TRUE);
  return client.line;
}


static void
say (GSocketConnection *connection, const char *line)
{
  g_autoptr(GError) error = NULL;
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  g_output_stream_write_all (output, line, strlen (line), NULL, NULL, &error);
  g_assert_no_error (error);
}

/* A subclass that greets its clients from its class handler, as one written for
 * GSocketService would (G_DEFINE_TYPE, klass->incoming). */
#define TEST_TYPE_GREETER (test_greeter_get_type ())
G_DECLARE_FINAL_TYPE (TestGreeter, test_greeter, TEST, GREETER, UsherSocketService)

struct _TestGreeter
{
  UsherSocketService parent_instance;
  guint greeted;
};

G_DEFINE_TYPE (TestGreeter, test_greeter, USHER_TYPE_SOCKET_SERVICE)

static gboolean
test_greeter_incoming (UsherSocketService *service,
                       GSocketConnection  *connection,
                       GObject            *source_object)
{
  TestGreeter *greeter = TEST_GREETER (service);

  /* Chaining up reaches the default, which does not handle it. */
  g_assert_false (USHER_SOCKET_SERVICE_CLASS (test_greeter_parent_class)->incoming (service, connection,
                                                                                   source_object));
  g_assert_true (G_IS_TCP_CONNECTION (connection));
  say (connection, source_object != NULL ? "hello, tagged\n" : "hello\n");
  greeter->greeted++;
  return TRUE;
}

static void
test_greeter_class_init (TestGreeterClass *klass)
{
  USHER_SOCKET_SERVICE_CLASS (klass)->incoming = test_greeter_incoming;
}

static void
test_greeter_init (TestGreeter *greeter)
{
}

static void
test_subclass (void)
{
  g_autoptr(TestGreeter) greeter = g_object_new (TEST_TYPE_GREETER, NULL);
  g_autoptr(GObject) tag = g_object_new (G_TYPE_OBJECT, NULL);
  guint16 tagged = listen_loopback (G_SOCKET_LISTENER (greeter), tag);
  guint16 untagged = listen_loopback (G_SOCKET_LISTENER (greeter), NULL);
  g_autofree char *first = read_line_from (tagged);
  g_autofree char *second = read_line_from (untagged);

  g_assert_cmpstr (first, ==, "hello, tagged");
  g_assert_cmpstr (second, ==, "hello");
  g_assert_cmpuint (greeter->greeted, ==, 2);
  usher_socket_service_stop (USHER_SOCKET_SERVICE (greeter));
}

static gboolean
claim (UsherSocketService *service, GSocketConnection *connection, GObject *source_object,
       gpointer user_data)
{
  say (connection, user_data);
  return TRUE;
}

static void
test_handler_stops_the_class_handler (void)
{
  g_autoptr(TestGreeter) greeter = g_object_new (TEST_TYPE_GREETER, NULL);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (greeter), NULL);
  g_signal_connect (greeter, "incoming", G_CALLBACK (claim), "claimed\n");
  g_autofree char *line = read_line_from (port);

  g_assert_cmpstr (line, ==, "claimed");
  g_assert_cmpuint (greeter->greeted, ==, 0);
  usher_socket_service_stop (USHER_SOCKET_SERVICE (greeter));
}

static gpointer
toggle (gpointer service)
{
  for (int i = 0; i < 100; i++)
    {
      usher_socket_service_stop (service);
      usher_socket_service_start (service);
    }
  return NULL;
}

static void
test_start_stop_from_threads (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  g_signal_connect (service, "incoming", G_CALLBACK (claim), "served\n");
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("toggle", toggle, service);
  for (int i = 0; i < 20; i++)
    {
      g_autofree char *line = read_line_from (port);
      g_assert_cmpstr (line, ==, "served");
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  g_assert_true (usher_socket_service_is_active (service));
  usher_socket_service_stop (service);
}

static void
test_misuse_is_a_critical (void)
{
  g_autoptr(GObject) not_a_service = g_object_new (G_TYPE_OBJECT, NULL);

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_start*USHER_IS_SOCKET_SERVICE*");
  usher_socket_service_start (NULL);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_stop*USHER_IS_SOCKET_SERVICE*");
  usher_socket_service_stop ((UsherSocketService *) not_a_service);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_is_active*USHER_IS_SOCKET_SERVICE*");
  g_assert_false (usher_socket_service_is_active (NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_threaded_socket_service_new*max_threads >= -1*");
  g_assert_null (usher_threaded_socket_service_new (-2));
  g_test_assert_expected_messages ();
}

static void
test_active_property (void)
{
  g_autoptr(UsherSocketService) service = g_object_new (USHER_TYPE_SOCKET_SERVICE,
                                                        "active", FALSE, NULL);
  gboolean active = TRUE;

  g_assert_false (usher_socket_service_is_active (service));
  usher_socket_service_start (service);
  g_object_get (service, "active", &active, NULL);
  g_assert_true (active);
  usher_socket_service_stop (service);
}

static void
record_event (GSocketListener *listener, GSocketListenerEvent event, GSocket *socket, gpointer events)
{
  g_string_append_printf (events, "%d", event);
}

static void
test_reuse_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UsherSocketService) first = usher_socket_service_new ();
  g_autoptr(UsherSocketService) second = usher_socket_service_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketAddress) shared = NULL;
  g_autoptr(GString) events = g_string_new (NULL);

  g_signal_connect (first, "event", G_CALLBACK (record_event), events);
  g_assert_true (usher_socket_service_add_reuse_port_address (first, any_port, NULL, &bound, &error));
  g_assert_no_error (error);
  /* BINDING, BOUND, LISTENING, LISTENED: as g_socket_listener_add_address(). */
  g_assert_cmpstr (events->str, ==, "0123");

  /* A second service on the same port: the kernel shares it between them. */
  g_assert_true (usher_socket_service_add_reuse_port_address (second, bound, NULL, &shared, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (shared)), ==,
                    g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));

  /* A service without SO_REUSEPORT cannot. */
  g_autoptr(GSocketListener) plain = g_socket_listener_new ();
  g_assert_false (g_socket_listener_add_address (plain, bound, G_SOCKET_TYPE_STREAM,
                                                 G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);

  usher_socket_service_stop (first);
  usher_socket_service_stop (second);
}

static void
test_not_socket_activated (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();

  g_assert_cmpuint (usher_socket_service_add_activated_sockets (service, NULL, NULL, &error), ==, 0);
  g_assert_no_error (error);
}

static void
shut_down (GObject *service, GAsyncResult *result, gpointer user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (usher_socket_service_shutdown_finish (USHER_SOCKET_SERVICE (service), result, &error));
  g_assert_no_error (error);
  *done = TRUE;
  g_main_context_wakeup (NULL);
}

static void
test_shutdown_and_counters (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  g_signal_connect (service, "incoming", G_CALLBACK (claim), "bye\n");
  g_autofree char *line = read_line_from (port);
  gboolean done = FALSE;
  guint64 accepted = 0;

  g_assert_cmpstr (line, ==, "bye");
  g_assert_cmpuint (usher_socket_service_get_n_accepted (service), ==, 1);
  g_object_get (service, "n-accepted", &accepted, NULL);
  g_assert_cmpuint (accepted, ==, 1);
  g_assert_cmpuint (usher_socket_service_get_n_connections (service), ==, 0);
  g_assert_cmpuint (usher_socket_service_get_n_accept_errors (service), ==, 0);
  usher_socket_service_set_max_connections (service, 3);
  g_assert_cmpuint (usher_socket_service_get_max_connections (service), ==, 3);

  usher_socket_service_shutdown_async (service, NULL, shut_down, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (usher_socket_service_is_active (service));
}

static void
test_more_misuse_is_a_critical (void)
{
  g_autoptr(GObject) not_a_service = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*usher_socket_service_shutdown_async*");
  usher_socket_service_shutdown_async ((UsherSocketService *) not_a_service, NULL, NULL, NULL);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_shutdown_async*G_IS_CANCELLABLE*");
  usher_socket_service_shutdown_async (service, (GCancellable *) not_a_service, NULL, NULL);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*usher_socket_service_add_reuse_port_address*");
  g_assert_false (usher_socket_service_add_reuse_port_address (service, NULL, NULL, NULL, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*usher_socket_service_get_n_connections*");
  g_assert_cmpuint (usher_socket_service_get_n_connections (NULL), ==, 0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*usher_socket_service_close_connections*");
  usher_socket_service_close_connections (NULL);
  g_test_assert_expected_messages ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/service/subclass", test_subclass);
  g_test_add_func ("/service/handler-stops-the-class-handler", test_handler_stops_the_class_handler);
  g_test_add_func ("/service/start-stop-from-threads", test_start_stop_from_threads);
  g_test_add_func ("/service/misuse-is-a-critical", test_misuse_is_a_critical);
  g_test_add_func ("/service/active-property", test_active_property);
  g_test_add_func ("/service/reuse-port", test_reuse_port);
  g_test_add_func ("/service/not-socket-activated", test_not_socket_activated);
  g_test_add_func ("/service/shutdown-and-counters", test_shutdown_and_counters);
  g_test_add_func ("/service/more-misuse-is-a-critical", test_more_misuse_is_a_critical);
  return g_test_run ();
}
