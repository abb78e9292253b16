/* UsherThreadedSocketService from C: a subclass whose blocking run() echoes, saturation, the
 * last reference dropped in a worker, and a service run as gcr's SSH agent runs it. */

#include <glib/gstdio.h>

#include "loopback.h"

/* A subclass written as one for GThreadedSocketService would be (klass->run). */
#define TEST_TYPE_ECHO (test_echo_get_type ())
G_DECLARE_FINAL_TYPE (TestEcho, test_echo, TEST, ECHO, UsherThreadedSocketService)

struct _TestEcho
{
  UsherThreadedSocketService parent_instance;
};

G_DEFINE_TYPE (TestEcho, test_echo, USHER_TYPE_THREADED_SOCKET_SERVICE)

static gint finalized;

static gboolean
test_echo_run (UsherThreadedSocketService *service,
               GSocketConnection          *connection,
               GObject                    *source_object)
{
  g_autoptr(GDataInputStream) input =
    g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_autofree char *line = g_data_input_stream_read_line_utf8 (input, NULL, NULL, NULL);
  g_autofree char *reply = g_strconcat (line != NULL ? line : "", "\n", NULL);
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  g_assert_false (g_main_context_is_owner (g_main_context_default ()));
  g_output_stream_write_all (output, reply, strlen (reply), NULL, NULL, NULL);
  return FALSE;
}

static void
test_echo_finalize (GObject *object)
{
  G_OBJECT_CLASS (test_echo_parent_class)->finalize (object);
  g_atomic_int_set (&finalized, TRUE);
  g_main_context_wakeup (NULL);
}

static void
test_echo_class_init (TestEchoClass *klass)
{
  USHER_THREADED_SOCKET_SERVICE_CLASS (klass)->run = test_echo_run;
  G_OBJECT_CLASS (klass)->finalize = test_echo_finalize;
}

static void
test_echo_init (TestEcho *echo)
{
}

/* A client, on its own thread, that sends a line and reads the answer. */
typedef struct
{
  guint16 port;
  char *line;
  gint done;
} Client;

static gpointer
echo_through (gpointer data)
{
  Client *client = data;
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection =
    g_socket_client_connect_to_host (socket_client, "127.0.0.1", client->port, NULL, &error);
  g_assert_no_error (error);
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_output_stream_write_all (output, "ping\n", 5, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr(GDataInputStream) input =
    g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  client->line = g_data_input_stream_read_line_utf8 (input, NULL, NULL, &error);
  g_assert_no_error (error);
  g_atomic_int_set (&client->done, TRUE);
  g_main_context_wakeup (NULL);
  return NULL;
}


static void
test_subclass_echoes_in_workers (void)
{
  TestEcho *echo = g_object_new (TEST_TYPE_ECHO, "max-threads", 2, NULL);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (echo), NULL);
  Client clients[8] = { 0 };
  GThread *threads[G_N_ELEMENTS (clients)];

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      clients[i].port = port;
      threads[i] = g_thread_new ("client", echo_through, &clients[i]);
    }
  /* The clients wake the context up when they are done; the service accepts here. */
  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      while (!g_atomic_int_get (&clients[i].done))
        g_main_context_iteration (NULL, TRUE);
      g_thread_join (threads[i]);
      g_assert_cmpstr (clients[i].line, ==, "ping");
      g_free (clients[i].line);
    }

  /* Stopped, the service drops its own reference; the last one then finalizes it. */
  usher_socket_service_stop (USHER_SOCKET_SERVICE (echo));
  g_atomic_int_set (&finalized, FALSE);
  g_object_unref (echo);
  while (!g_atomic_int_get (&finalized))
    g_main_context_iteration (NULL, TRUE);
}

/* gcr's SSH agent (gcr-ssh-agent-service.c and its tests, gnome-keyring's alike): the service
 * is created on the main thread; a server thread pushes a context of its own, adds a Unix
 * socket, starts the service and runs that context while the main thread makes blocking calls;
 * the main thread stops the service once that thread and its context are gone. */
typedef struct
{
  UsherSocketService *service;
  char *path;
  GMainContext *context;
  GMutex lock;
  GCond cond;
  gboolean up;
  gint stop;
} Agent;

static gboolean
agent_run (UsherThreadedSocketService *service,
           GSocketConnection          *connection,
           GObject                    *source_object,
           gpointer                    user_data)
{
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  g_output_stream_write_all (output, "agent\n", 6, NULL, NULL, NULL);
  return TRUE;
}

static gpointer
agent_thread (gpointer data)
{
  Agent *agent = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (agent->path);

  g_main_context_push_thread_default (agent->context);
  g_socket_listener_add_address (G_SOCKET_LISTENER (agent->service), address,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                 NULL, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (agent->service, "run", G_CALLBACK (agent_run), NULL);
  usher_socket_service_start (agent->service);

  g_mutex_lock (&agent->lock);
  agent->up = TRUE;
  g_cond_signal (&agent->cond);
  g_mutex_unlock (&agent->lock);

  while (!g_atomic_int_get (&agent->stop))
    g_main_context_iteration (agent->context, TRUE);
  g_main_context_pop_thread_default (agent->context);
  return NULL;
}

static void
test_accepts_on_the_context_of_the_thread_that_adds_its_socket (void)
{
  g_autofree char *directory = g_dir_make_tmp ("usher-agent-XXXXXX", NULL);
  Agent agent = {
    .service = usher_threaded_socket_service_new (-1),
    .path = g_build_filename (directory, "ssh", NULL),
    .context = g_main_context_new (),
  };
  GThread *thread;

  g_mutex_init (&agent.lock);
  g_cond_init (&agent.cond);
  thread = g_thread_new ("ssh-agent", agent_thread, &agent);
  g_mutex_lock (&agent.lock);
  while (!agent.up)
    g_cond_wait (&agent.cond, &agent.lock);
  g_mutex_unlock (&agent.lock);

  /* Blocking calls on the main thread, whose context nobody runs. */
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocketClient) client = g_socket_client_new ();
      g_autoptr(GSocketAddress) address = g_unix_socket_address_new (agent.path);
      g_autoptr(GSocketConnection) connection =
        g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
      g_assert_no_error (error);
      g_autoptr(GDataInputStream) input =
        g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
      g_autofree char *line = g_data_input_stream_read_line_utf8 (input, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (line, ==, "agent");
    }

  g_atomic_int_set (&agent.stop, TRUE);
  g_main_context_wakeup (agent.context);
  g_thread_join (thread);
  g_main_context_unref (agent.context);
  usher_socket_service_stop (agent.service);
  g_assert_false (usher_socket_service_is_active (agent.service));
  g_object_unref (agent.service);

  g_unlink (agent.path);
  g_rmdir (directory);
  g_free (agent.path);
  g_mutex_clear (&agent.lock);
  g_cond_clear (&agent.cond);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/threaded/subclass-echoes-in-workers", test_subclass_echoes_in_workers);
  g_test_add_func ("/threaded/accepts-on-the-context-of-the-thread-that-adds-its-socket",
                   test_accepts_on_the_context_of_the_thread_that_adds_its_socket);
  return g_test_run ();
}
