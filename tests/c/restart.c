/* Restart without dropping a client, from C: a service hands its listening socket over to a
 * successor (another service, on a thread of its own), which serves it from then on; the
 * socket's name travels with it; the file descriptor store talks to a stand-in for systemd;
 * and failures and misuse are reported. */

#include <string.h>
#include <unistd.h>

#include <usher/usher.h>

#include "loopback.h"
#include "wait.h"

typedef struct
{
  GSocketAddress *rendezvous;
  GMainContext *context;
  guint added;
  char *name;
  gboolean stop;
} Successor;

static GObject *
tag_by_name (const char *name, gpointer user_data)
{
  Successor *successor = user_data;

  successor->name = g_strdup (name);
  return g_object_new (G_TYPE_OBJECT, NULL);
}

static gboolean
answer_successor (UsherSocketService *service, GSocketConnection *connection,
                  GObject *source_object, gpointer user_data)
{
  g_assert_nonnull (source_object);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                             "successor\n", 10, NULL, NULL, NULL);
  return FALSE;
}

/* The successor: a service of its own on this thread's context, which takes the sockets over
 * and serves until told to stop. */
static gpointer
run_successor (gpointer data)
{
  Successor *successor = data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (successor->context);
  {
    g_autoptr(UsherSocketService) service = usher_socket_service_new ();
    g_signal_connect (service, "incoming", G_CALLBACK (answer_successor), NULL);
    successor->added = usher_socket_service_take_over (service, successor->rendezvous, NULL,
                                                       tag_by_name, successor, &error);
    g_assert_no_error (error);
    /* Its context runs: it tells the predecessor it accepts, and serves. */
    while (!g_atomic_int_get (&successor->stop))
      g_main_context_iteration (successor->context, TRUE);
    usher_socket_service_stop (service);
    g_socket_listener_close (G_SOCKET_LISTENER (service));
    while (g_main_context_iteration (successor->context, FALSE))
      ;
  }
  g_main_context_pop_thread_default (successor->context);
  return NULL;
}

typedef struct
{
  gboolean done;
  guint handed;
  GError *error;
} Outcome;

static void
handed_over (GObject *service, GAsyncResult *result, gpointer user_data)
{
  Outcome *outcome = user_data;

  outcome->handed = usher_socket_service_hand_over_finish (USHER_SOCKET_SERVICE (service), result,
                                                           &outcome->error);
  outcome->done = TRUE;
}

static void
shut_down (GObject *service, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (usher_socket_service_shutdown_finish (USHER_SOCKET_SERVICE (service), result, &error));
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

static gboolean
wake_successor (gpointer data)
{
  return G_SOURCE_REMOVE;
}

/* The line a server at 127.0.0.1:@port says first. */
static char *
first_line (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = g_socket_client_connect_to_host (client, "127.0.0.1",
                                                                             port, NULL, &error);
  g_assert_no_error (error);
  g_autoptr(GDataInputStream) input = g_data_input_stream_new (
      g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  char *line = g_data_input_stream_read_line_utf8 (input, NULL, NULL, &error);
  g_assert_no_error (error);
  return line;
}

static GSocketAddress *
abstract_address (const char *what)
{
  g_autofree char *name = g_strdup_printf ("usher-c-test-%s-%d", what, (int) getpid ());
  return g_unix_socket_address_new_with_type (name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
}

static void
test_hand_over_to_a_successor (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  Outcome outcome = { 0 };
  Successor successor = { .rendezvous = abstract_address ("handover"),
                          .context = g_main_context_new () };
  gboolean done = FALSE;

  usher_socket_settings_set_name (settings, "web");
  guint16 port = listen_with (service, settings);

  /* Listening once the call returns: the successor may start at once. */
  usher_socket_service_hand_over_async (service, successor.rendezvous, NULL, handed_over, &outcome);
  GThread *thread = g_thread_new ("successor", run_successor, &successor);
  WAIT_UNTIL (outcome.done);
  g_assert_no_error (outcome.error);
  g_assert_cmpuint (outcome.handed, ==, 1);
  g_assert_cmpuint (successor.added, ==, 1);
  g_assert_cmpstr (successor.name, ==, "web");

  usher_socket_service_shutdown_async (service, NULL, shut_down, &done);
  WAIT_UNTIL (done);
  /* The successor alone serves the port now. */
  g_autofree char *line = first_line (port);
  g_assert_cmpstr (line, ==, "successor");

  g_atomic_int_set (&successor.stop, TRUE);
  g_main_context_invoke (successor.context, wake_successor, NULL);
  g_thread_join (thread);
  g_main_context_unref (successor.context);
  g_object_unref (successor.rendezvous);
  g_free (successor.name);
}

static void
test_handover_failures (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) inet = g_inet_socket_address_new (loopback, 1);
  g_autoptr(GSocketAddress) nobody = abstract_address ("nobody-there");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Outcome outcome = { 0 };

  /* Nobody hands over there. */
  g_assert_cmpuint (usher_socket_service_take_over (service, nobody, NULL, NULL, NULL, &error), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_clear_error (&error);
  /* Not a Unix socket address. */
  g_assert_cmpuint (usher_socket_service_take_over (service, inet, NULL, NULL, NULL, &error), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  usher_socket_service_hand_over_async (service, inet, NULL, handed_over, &outcome);
  WAIT_UNTIL (outcome.done);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&outcome.error);
  outcome.done = FALSE;

  /* Waiting for a successor that never comes, until cancelled. */
  listen_loopback (G_SOCKET_LISTENER (service), NULL);
  usher_socket_service_hand_over_async (service, nobody, cancellable, handed_over, &outcome);
  iterate_pending ();
  g_assert_false (outcome.done);
  g_cancellable_cancel (cancellable);
  WAIT_UNTIL (outcome.done);
  g_assert_error (outcome.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&outcome.error);
  g_assert_true (usher_socket_service_is_active (service));
}

static void
test_fd_store (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("usher-c-test-notify-%d", (int) getpid ());
  g_autoptr(GSocketAddress) notify_address = g_unix_socket_address_new_with_type (
      name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
  g_autoptr(GSocket) notify = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_autofree char *variable = g_strdup_printf ("@%s", name);
  char buffer[256] = { 0 };
  GInputVector vector = { buffer, sizeof buffer - 1 };
  GSocketControlMessage **messages = NULL;
  gint n_messages = 0;

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (notify, notify_address, FALSE, &error));
  g_assert_no_error (error);

  /* Named by the service's own settings. */
  g_object_set (usher_socket_service_get_socket_settings (service), "name", "store", NULL);
  listen_loopback (G_SOCKET_LISTENER (service), NULL);

  /* No systemd: no notify socket. */
  g_unsetenv ("NOTIFY_SOCKET");
  g_assert_cmpuint (usher_socket_service_store_sockets (service, &error), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_setenv ("NOTIFY_SOCKET", variable, TRUE);
  g_assert_cmpuint (usher_socket_service_store_sockets (service, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (g_socket_receive_message (notify, NULL, &vector, 1, &messages, &n_messages,
                                             NULL, NULL, &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpstr (buffer, ==, "FDSTORE=1\nFDNAME=store\n");
  /* One descriptor (GUnixFDMessage is gio-unix-2.0's: its type name and size tell). */
  g_assert_cmpint (n_messages, ==, 1);
  g_assert_cmpstr (G_OBJECT_TYPE_NAME (messages[0]), ==, "GUnixFDMessage");
  g_assert_cmpuint (g_socket_control_message_get_size (messages[0]), ==, sizeof (int));
  g_object_unref (messages[0]);
  g_free (messages);

  /* systemd refuses: its socket reads no more. */
  g_assert_true (g_socket_shutdown (notify, TRUE, FALSE, &error));
  g_assert_cmpuint (usher_socket_service_store_sockets (service, &error), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_clear_error (&error);
  g_unsetenv ("NOTIFY_SOCKET");
}

static void
test_misuse_is_a_critical (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GObject) not_an_address = g_object_new (G_TYPE_OBJECT, NULL);
  g_autofree char *name = NULL;

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*usher_socket_service_take_over*G_IS_SOCKET_ADDRESS*");
  g_assert_cmpuint (usher_socket_service_take_over (service, (GSocketAddress *) not_an_address,
                                                    NULL, NULL, NULL, NULL), ==, 0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*usher_socket_service_hand_over_async*");
  usher_socket_service_hand_over_async (NULL, NULL, NULL, NULL, NULL);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*usher_socket_service_hand_over_finish*");
  g_assert_cmpuint (usher_socket_service_hand_over_finish (service, NULL, NULL), ==, 0);
  g_test_assert_expected_messages ();

  /* A result of another call, or of another service, is an error, not a crash. */
  {
    g_autoptr(UsherSocketService) other = usher_socket_service_new ();
    g_autoptr(GTask) foreign = g_task_new (service, NULL, NULL, NULL);
    g_autoptr(GTask) others = g_task_new (other, NULL, NULL, NULL);
    g_autoptr(GError) error = NULL;

    g_task_set_source_tag (others, usher_socket_service_shutdown_async);
    g_assert_cmpuint (usher_socket_service_hand_over_finish (service, G_ASYNC_RESULT (foreign),
                                                             &error), ==, 0);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "hand_over_async()"));
    g_clear_error (&error);
    g_assert_false (usher_socket_service_shutdown_finish (service, G_ASYNC_RESULT (others),
                                                          &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "shutdown_async()"));
    g_task_return_boolean (foreign, TRUE);
    g_task_return_boolean (others, TRUE);
  }

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*usher_socket_service_store_sockets*");
  g_assert_cmpuint (usher_socket_service_store_sockets (NULL, NULL), ==, 0);
  g_test_assert_expected_messages ();

  /* A name systemd would not take is refused, and the setting left as it was. */
  usher_socket_settings_set_name (settings, "web");
  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*name left as it was*");
  usher_socket_settings_set_name (settings, "a:b");
  g_test_assert_expected_messages ();
  name = usher_socket_settings_get_name (settings);
  g_assert_cmpstr (name, ==, "web");
  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL, "*usher_socket_settings_set_name*");
  usher_socket_settings_set_name (settings, "\xff");
  g_test_assert_expected_messages ();
  usher_socket_settings_set_name (settings, NULL);
  g_assert_null (usher_socket_settings_get_name (settings));
  g_assert_true (usher_socket_settings_is_set (settings, "name"));
  usher_socket_settings_unset (settings, "name");
  g_assert_false (usher_socket_settings_is_set (settings, "name"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/restart/hand-over-to-a-successor", test_hand_over_to_a_successor);
  g_test_add_func ("/restart/handover-failures", test_handover_failures);
  g_test_add_func ("/restart/fd-store", test_fd_store);
  g_test_add_func ("/restart/misuse-is-a-critical", test_misuse_is_a_critical);
  return g_test_run ();
}
