/* Lifetimes from C. No Usher call finalizes the service synchronously or emits on it after its
 * last reference went: the self-reference of an active service is released on the service's own
 * context, after the notifications, and what a connection's close or finalization causes happens
 * in a later iteration, never inside the g_object_unref() that finalized it. */

#include "loopback.h"
#include "wait.h"

/* A service whose only reference is its own, and a client whose connect callback changes the
 * service's state through a weak pointer (it holds no reference of its own). */
typedef struct
{
  UsherSocketService *service; /* weak */
  void (*act) (UsherSocketService *service);
  gboolean active_after;
  gboolean called_back;
  guint called_back_in;
  guint finalized_in;
  gboolean notified_inactive;
  GSocketConnection *client;
} Scenario;

static void
notified_active (UsherSocketService *service, GParamSpec *pspec, Scenario *scenario)
{
  /* Emitted on a live service only. */
  g_assert_true (scenario->service == service);
  if (!usher_socket_service_is_active (service))
    scenario->notified_inactive = TRUE;
}

static void
finalized (gpointer data, GObject *where_the_object_was)
{
  ((Scenario *) data)->finalized_in = iteration;
}

static void
connected_then_act (GObject *client, GAsyncResult *result, gpointer data)
{
  Scenario *scenario = data;

  connected_into (client, result, &scenario->client);
  g_assert_nonnull (scenario->service);
  scenario->act (scenario->service);
  /* Not finalized inside the call, though it may have let go of its own reference. */
  g_assert_nonnull (scenario->service);
  g_assert_cmpint (usher_socket_service_is_active (scenario->service), ==, scenario->active_after);
  scenario->called_back = TRUE;
  scenario->called_back_in = iteration;
}

static UsherSocketService *
watched_service (Scenario *scenario)
{
  UsherSocketService *service = g_object_new (USHER_TYPE_SOCKET_SERVICE, "active", FALSE, NULL);

  scenario->service = service;
  g_object_add_weak_pointer (G_OBJECT (service), (gpointer *) &scenario->service);
  g_object_weak_ref (G_OBJECT (service), finalized, scenario);
  g_signal_connect (service, "notify::active", G_CALLBACK (notified_active), scenario);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  return service;
}

/* GLib's start-stop scenario: stop() from a callback, on a service whose last reference is its
 * own, lets go of that reference in a later iteration, after notifying active. */
static void
test_stop_from_a_callback (void)
{
  Scenario scenario = { .act = usher_socket_service_stop, .active_after = FALSE };
  UsherSocketService *service = watched_service (&scenario);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  connect_to (port, connected_then_act, &scenario);
  usher_socket_service_start (service);

  /* Active, with a socket: it keeps itself alive. */
  g_object_unref (service);
  g_assert_nonnull (scenario.service);

  WAIT_UNTIL (scenario.called_back);
  WAIT_UNTIL (scenario.service == NULL);
  g_assert_true (scenario.notified_inactive);
  g_assert_cmpuint (scenario.finalized_in, >, scenario.called_back_in);
  g_clear_object (&scenario.client);
}

static void
limit_to_one (UsherSocketService *service)
{
  usher_socket_service_set_max_connections (service, 1);
}

/* At its max-connections, set from a callback, a service that is only kept by its own reference
 * stops accepting but stays active and alive; stop() then lets it go, later. */
static void
test_set_max_connections_from_a_callback (void)
{
  Scenario scenario = { .act = limit_to_one, .active_after = TRUE };
  UsherSocketService *service = watched_service (&scenario);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  GSocketConnection *held = NULL;
  GSocketConnection *first_client = NULL;

  g_signal_connect (service, "incoming", G_CALLBACK (hold_connection), &held);
  usher_socket_service_start (service);
  connect_to (port, connected_into, &first_client);
  WAIT_UNTIL (held != NULL && first_client != NULL);
  g_signal_handlers_disconnect_by_func (service, hold_connection, &held);

  g_object_unref (service);
  g_assert_nonnull (scenario.service);
  connect_to (port, connected_then_act, &scenario);
  WAIT_UNTIL (scenario.called_back);
  iterate_pending ();
  g_assert_nonnull (scenario.service);
  g_assert_cmpuint (usher_socket_service_get_n_connections (scenario.service), ==, 1);

  /* The slot frees up: the second client is served (at once or by now) and let go of. */
  g_clear_object (&held);
  WAIT_UNTIL (scenario.service == NULL
              || (usher_socket_service_get_n_accepted (scenario.service) == 2
                  && usher_socket_service_get_n_connections (scenario.service) == 0));
  g_assert_nonnull (scenario.service);
  g_assert_true (usher_socket_service_is_active (scenario.service));
  g_assert_cmpuint (usher_socket_service_get_n_accepted (scenario.service), ==, 2);

  usher_socket_service_stop (scenario.service);
  g_assert_nonnull (scenario.service);
  WAIT_UNTIL (scenario.service == NULL);
  g_assert_true (scenario.notified_inactive);
  g_clear_object (&first_client);
  g_clear_object (&scenario.client);
}

static gboolean in_unref;

static void
n_connections_notified (UsherSocketService *service, GParamSpec *pspec, guint *notified)
{
  g_assert_false (in_unref);
  (*notified)++;
}

static void
shut_down (GObject *service, GAsyncResult *result, gpointer done)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (in_unref);
  g_assert_true (usher_socket_service_shutdown_finish (USHER_SOCKET_SERVICE (service), result,
                                                       &error));
  g_assert_no_error (error);
  *(gboolean *) done = TRUE;
}

/* Finalizing the last connection of a shutting-down service runs neither the shutdown's callback
 * nor notify::n-connections inside g_object_unref(): they come in a later iteration. */
static void
test_connection_finalize_runs_no_callbacks (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  GSocketConnection *held = NULL;
  g_autoptr(GSocketConnection) client = NULL;
  gboolean done = FALSE;
  guint notified = 0;

  g_signal_connect (service, "incoming", G_CALLBACK (hold_connection), &held);
  g_signal_connect (service, "notify::n-connections", G_CALLBACK (n_connections_notified),
                    &notified);
  connect_to (port, connected_into, &client);
  WAIT_UNTIL (held != NULL && client != NULL);
  usher_socket_service_shutdown_async (service, NULL, shut_down, &done);
  iterate_pending ();
  g_assert_false (done);
  g_assert_cmpuint (usher_socket_service_get_n_connections (service), ==, 1);

  guint notified_before = notified;
  g_object_add_weak_pointer (G_OBJECT (held), (gpointer *) &held);
  in_unref = TRUE;
  g_object_unref (held);
  in_unref = FALSE;
  g_assert_null (held); /* finalized in there */
  g_assert_false (done);
  g_assert_cmpuint (notified, ==, notified_before);
  g_assert_cmpuint (usher_socket_service_get_n_connections (service), ==, 1);

  WAIT_UNTIL (done);
  g_assert_cmpuint (usher_socket_service_get_n_connections (service), ==, 0);
  g_assert_cmpuint (notified, >, notified_before);
}

/* Drops the test's reference to @service, which must then be finalized on its context. */
static void
let_go_of (UsherSocketService *service)
{
  UsherSocketService *weak = service;

  g_object_add_weak_pointer (G_OBJECT (service), (gpointer *) &weak);
  g_object_unref (service);
  WAIT_UNTIL (weak == NULL);
}

/* A closed listener nobody watches, on a stopped service, with a client served before and one
 * waiting since: no warning, start() cannot revive it, and it is finalized. */
static void
test_close_while_stopped (void)
{
  UsherSocketService *service = usher_socket_service_new ();
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  g_autoptr(GSocketConnection) served = NULL;
  g_autoptr(GSocketConnection) waiting = NULL;

  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  connect_to (port, connected_into, &served);
  WAIT_UNTIL (usher_socket_service_get_n_accepted (service) == 1 && served != NULL);
  usher_socket_service_stop (service);
  connect_to (port, connected_into, &waiting);
  WAIT_UNTIL (waiting != NULL);

  g_socket_listener_close (G_SOCKET_LISTENER (service));
  usher_socket_service_start (service);
  g_assert_false (usher_socket_service_is_active (service));
  iterate_pending ();
  g_assert_false (usher_socket_service_is_active (service));
  g_assert_cmpuint (usher_socket_service_get_n_accepted (service), ==, 1);
  let_go_of (service);
}

/* The same at max-connections: the service waits for a slot, not on its sockets, when they are
 * closed; the slot's release must not revive them. */
static void
test_close_at_max_connections (void)
{
  UsherSocketService *service = usher_socket_service_new ();
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  GSocketConnection *held = NULL;
  g_autoptr(GSocketConnection) first = NULL;
  g_autoptr(GSocketConnection) waiting = NULL;

  usher_socket_service_set_max_connections (service, 1);
  g_signal_connect (service, "incoming", G_CALLBACK (hold_connection), &held);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  connect_to (port, connected_into, &first);
  WAIT_UNTIL (held != NULL && first != NULL);
  connect_to (port, connected_into, &waiting);
  WAIT_UNTIL (waiting != NULL);
  iterate_pending ();
  g_assert_cmpuint (usher_socket_service_get_n_accepted (service), ==, 1);

  g_socket_listener_close (G_SOCKET_LISTENER (service));
  usher_socket_service_start (service);
  g_assert_false (usher_socket_service_is_active (service));

  g_clear_object (&held);
  WAIT_UNTIL (usher_socket_service_get_n_connections (service) == 0);
  iterate_pending ();
  g_assert_false (usher_socket_service_is_active (service));
  g_assert_cmpuint (usher_socket_service_get_n_accepted (service), ==, 1);
  let_go_of (service);
}

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean open;
  gint entered;
  gint leaving;
} Gate;

/* A run handler that blocks its worker until the test opens the gate. */
static gboolean
wait_at_gate (UsherThreadedSocketService *service, GSocketConnection *connection,
              GObject *source_object, Gate *gate)
{
  g_atomic_int_inc (&gate->entered);
  g_main_context_wakeup (NULL);
  g_mutex_lock (&gate->lock);
  while (!gate->open)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
  g_atomic_int_inc (&gate->leaving);
  g_main_context_wakeup (NULL);
  return TRUE;
}

/* The same on a threaded service whose only thread is busy: it waits for the thread, not on
 * its sockets, when they are closed; the thread's return must not revive them. */
static void
test_close_with_busy_threads (void)
{
  UsherSocketService *service = usher_threaded_socket_service_new (1);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  g_autoptr(GSocketConnection) first = NULL;
  g_autoptr(GSocketConnection) waiting = NULL;
  Gate gate = { 0 };

  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  g_signal_connect (service, "run", G_CALLBACK (wait_at_gate), &gate);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  connect_to (port, connected_into, &first);
  WAIT_UNTIL (g_atomic_int_get (&gate.entered) == 1 && first != NULL);
  connect_to (port, connected_into, &waiting);
  WAIT_UNTIL (waiting != NULL);
  iterate_pending ();

  g_socket_listener_close (G_SOCKET_LISTENER (service));
  usher_socket_service_start (service);
  g_assert_false (usher_socket_service_is_active (service));

  g_mutex_lock (&gate.lock);
  gate.open = TRUE;
  g_cond_broadcast (&gate.cond);
  g_mutex_unlock (&gate.lock);
  WAIT_UNTIL (g_atomic_int_get (&gate.leaving) == 1
              && usher_socket_service_get_n_connections (service) == 0);
  iterate_pending ();
  g_assert_false (usher_socket_service_is_active (service));
  g_assert_cmpint (g_atomic_int_get (&gate.entered), ==, 1);
  g_assert_cmpuint (usher_socket_service_get_n_accepted (service), ==, 1);
  let_go_of (service);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

static void
count_notify (GObject *object, GParamSpec *pspec, guint *count)
{
  (*count)++;
}

/* A shut-down service is inactive for good: start() changes and notifies nothing, and its
 * port stays closed. */
static void
test_start_after_shutdown (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;
  guint notified = 0;

  usher_socket_service_shutdown_async (service, NULL, shut_down, &done);
  WAIT_UNTIL (done);
  iterate_pending ();
  g_assert_false (usher_socket_service_is_active (service));

  g_signal_connect (service, "notify", G_CALLBACK (count_notify), &notified);
  usher_socket_service_start (service);
  g_assert_false (usher_socket_service_is_active (service));
  iterate_pending ();
  g_assert_false (usher_socket_service_is_active (service));
  g_assert_cmpuint (notified, ==, 0);

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lifetimes/stop-from-a-callback", test_stop_from_a_callback);
  g_test_add_func ("/lifetimes/set-max-connections-from-a-callback",
                   test_set_max_connections_from_a_callback);
  g_test_add_func ("/lifetimes/connection-finalize-runs-no-callbacks",
                   test_connection_finalize_runs_no_callbacks);
  g_test_add_func ("/lifetimes/close-while-stopped", test_close_while_stopped);
  g_test_add_func ("/lifetimes/close-at-max-connections", test_close_at_max_connections);
  g_test_add_func ("/lifetimes/close-with-busy-threads", test_close_with_busy_threads);
  g_test_add_func ("/lifetimes/start-after-shutdown", test_start_after_shutdown);
  return g_test_run ();
}
