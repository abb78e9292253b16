/* Admission control from C, on loopback where each 127.0.0.x is a peer of its own: the
 * accessors and their defaults, UsherRefusal as a GType, a deny list and an allow list, a
 * per-peer rate refusing one peer while another is served, a service rate, the refused signal's
 * arguments and get_n_refused(); memory pressure from a fake GMemoryMonitor (MEDIUM pauses
 * accepting, LOW resumes it, overloaded notified), the descriptor margin pausing accepting near
 * the descriptor limit (in a subprocess); and misuse of every new function. */

#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "loopback.h"
#include "refusals.h"
#include "settings-checks.h"
#include "wait.h"

/* A GMemoryMonitor of the test's own, whose warnings the test emits. GMemoryMonitor requires
 * GInitable. */
#define TEST_TYPE_FAKE_MONITOR (test_fake_monitor_get_type ())
G_DECLARE_FINAL_TYPE (TestFakeMonitor, test_fake_monitor, TEST, FAKE_MONITOR, GObject)

struct _TestFakeMonitor
{
  GObject parent_instance;
};

static gboolean
test_fake_monitor_initable_init (GInitable *initable, GCancellable *cancellable, GError **error)
{
  return TRUE;
}

static void
test_fake_monitor_initable_iface_init (GInitableIface *iface)
{
  iface->init = test_fake_monitor_initable_init;
}

static void
test_fake_monitor_memory_monitor_iface_init (GMemoryMonitorInterface *iface)
{
}

G_DEFINE_TYPE_WITH_CODE (TestFakeMonitor, test_fake_monitor, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                test_fake_monitor_initable_iface_init)
                         G_IMPLEMENT_INTERFACE (G_TYPE_MEMORY_MONITOR,
                                                test_fake_monitor_memory_monitor_iface_init))

static void
test_fake_monitor_class_init (TestFakeMonitorClass *klass)
{
}

static void
test_fake_monitor_init (TestFakeMonitor *self)
{
}

static GMemoryMonitor *
fake_monitor_new (void)
{
  g_autoptr(GError) error = NULL;
  GMemoryMonitor *monitor = g_initable_new (TEST_TYPE_FAKE_MONITOR, NULL, &error, NULL);

  g_assert_no_error (error);
  return monitor;
}

static void
warn (GMemoryMonitor *monitor, GMemoryMonitorWarningLevel level)
{
  g_signal_emit_by_name (monitor, "low-memory-warning", level);
}

/* The address of the peer of a connection the service handed out. */
static char *
peer_of (GSocketConnection *connection)
{
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);

  g_assert_true (G_IS_INET_SOCKET_ADDRESS (remote));
  return g_inet_address_to_string (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
}

/* How many connections of held came from @peer. */
static guint
count_from (GPtrArray *held, const char *peer)
{
  guint count = 0;

  for (guint i = 0; i < held->len; i++)
    {
      g_autofree char *from = peer_of (held->pdata[i]);

      count += g_strcmp0 (from, peer) == 0;
    }
  return count;
}

/* Waits until the service closes the client @connection (a refused client); fails if it sends
 * anything first. */
static void
wait_closed (GSocketConnection *connection)
{
  Read read;

  read_first (connection, &read);
  g_assert_cmpint (read.size, ==, 0);
}

/* Connects from @local to 127.0.0.1:@port; returns the client's connection once connected. */
static GSocketConnection *
connected_from (const char *local, guint16 port)
{
  GSocketConnection *client = NULL;

  connect_from (local, port, connected_into, &client);
  WAIT_UNTIL (client != NULL);
  return client;
}

/* Keeps what @service hands out in the GPtrArray held, its refusals in refusals (of
 * refusal_free) and its accept errors in errors. */
static void
watch (UsherSocketService *service, GPtrArray *held, GPtrArray *refusals, GPtrArray *errors)
{
  g_signal_connect (service, "incoming", G_CALLBACK (hold_all), held);
  g_signal_connect (service, "refused", G_CALLBACK (keep_refusal), refusals);
  g_signal_connect (service, "accept-error", G_CALLBACK (keep_error), errors);
}

static void
count_notify (GObject *object, GParamSpec *pspec, guint *count)
{
  (*count)++;
}

/* The defaults of every new setting and property, what the accessors read back, and the lists'
 * errors. */
static void
test_accessors (void)
{
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GMemoryMonitor) monitor = fake_monitor_new ();
  g_autoptr(GMemoryMonitor) read_monitor = NULL;
  const char *peers[] = { "127.0.0.2", "10.0.0.0/8", "fd00::/8", NULL };
  const char *invalid[] = { "192.0.2.1", "not an address", NULL };
  const char *overlong[] = { "10.0.0.0/33", NULL };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) strings = NULL;
  GParamSpec *overloaded =
    g_object_class_find_property (G_OBJECT_GET_CLASS (service), "overloaded");
  guint margin = 0, notified_margin = 0, notified_monitor = 0;
  gboolean is_overloaded = TRUE;

  g_assert_cmpuint (usher_socket_settings_get_peer_rate (settings), ==, 0);
  g_assert_cmpuint (usher_socket_settings_get_peer_rate_burst (settings), ==, 0);
  g_assert_cmpuint (usher_socket_settings_get_rate (settings), ==, 0);
  g_assert_cmpuint (usher_socket_settings_get_rate_burst (settings), ==, 0);
  g_assert_cmpuint (usher_socket_settings_get_tls_handshakes_per_peer (settings), ==, 0);
  g_assert_cmpuint (usher_socket_settings_get_tls_handshake_rate (settings), ==, 0);
  g_assert_null (usher_socket_settings_get_allowed_peers (settings));
  g_assert_null (usher_socket_settings_get_denied_peers (settings));

  usher_socket_settings_set_peer_rate (settings, 5);
  usher_socket_settings_set_peer_rate_burst (settings, 10);
  usher_socket_settings_set_rate (settings, 500);
  usher_socket_settings_set_rate_burst (settings, 1000);
  usher_socket_settings_set_tls_handshakes_per_peer (settings, 4);
  usher_socket_settings_set_tls_handshake_rate (settings, 50);
  g_assert_cmpuint (usher_socket_settings_get_peer_rate (settings), ==, 5);
  g_assert_cmpuint (usher_socket_settings_get_peer_rate_burst (settings), ==, 10);
  g_assert_cmpuint (usher_socket_settings_get_rate (settings), ==, 500);
  g_assert_cmpuint (usher_socket_settings_get_rate_burst (settings), ==, 1000);
  g_assert_cmpuint (usher_socket_settings_get_tls_handshakes_per_peer (settings), ==, 4);
  g_assert_cmpuint (usher_socket_settings_get_tls_handshake_rate (settings), ==, 50);
  for (const char *const *name = (const char *[]){ "peer-rate", "peer-rate-burst", "rate",
                                                   "rate-burst", "tls-handshakes-per-peer",
                                                   "tls-handshake-rate", NULL };
       *name != NULL; name++)
    g_assert_true (usher_socket_settings_is_set (settings, *name));

  for (int denied = 0; denied < 2; denied++)
    {
      const char *name = denied ? "denied-peers" : "allowed-peers";
      gboolean (*try_set) (UsherSocketSettings *, const gchar *const *, GError **) =
        denied ? usher_socket_settings_try_set_denied_peers
               : usher_socket_settings_try_set_allowed_peers;
      void (*set) (UsherSocketSettings *, const gchar *const *) =
        denied ? usher_socket_settings_set_denied_peers : usher_socket_settings_set_allowed_peers;
      gchar **(*get) (UsherSocketSettings *) =
        denied ? usher_socket_settings_get_denied_peers : usher_socket_settings_get_allowed_peers;
      g_autofree char *critical = g_strdup_printf ("*%s*not an address*", name);

      g_test_message ("%s", name);
      g_assert_true (try_set (settings, peers, &error));
      g_assert_no_error (error);
      strings = get (settings);
      g_assert_cmpstrv (strings, peers);
      g_clear_pointer (&strings, g_strfreev);
      g_object_get (settings, name, &strings, NULL);
      g_assert_cmpstrv (strings, peers);
      g_clear_pointer (&strings, g_strfreev);

      g_assert_false (try_set (settings, invalid, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, "not an address"));
      g_clear_error (&error);
      g_assert_false (try_set (settings, overlong, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
      g_assert_false (try_set (settings, invalid, NULL));
      EXPECT_CRITICAL (critical, set (settings, invalid));
      strings = get (settings);
      g_assert_cmpstrv (strings, peers);
      g_clear_pointer (&strings, g_strfreev);

      /* NULL: none, and set. */
      g_assert_true (try_set (settings, NULL, &error));
      g_assert_null (get (settings));
      g_assert_true (usher_socket_settings_is_set (settings, name));
      set (settings, peers);
      strings = get (settings);
      g_assert_cmpstrv (strings, peers);
      g_clear_pointer (&strings, g_strfreev);
      usher_socket_settings_unset (settings, name);
      g_assert_null (get (settings));
      g_assert_false (usher_socket_settings_is_set (settings, name));
    }

  /* The service's: a memory monitor, none by default; the margin, 32; not overloaded, which
   * only the service writes. */
  g_assert_null (usher_socket_service_get_memory_monitor (service));
  g_assert_cmpuint (usher_socket_service_get_descriptor_margin (service), ==, 32);
  g_assert_false (usher_socket_service_get_overloaded (service));
  g_assert_nonnull (overloaded);
  g_assert_true (overloaded->flags & G_PARAM_READABLE);
  g_assert_false (overloaded->flags & G_PARAM_WRITABLE);
  g_object_get (service, "overloaded", &is_overloaded, NULL);
  g_assert_false (is_overloaded);

  g_signal_connect (service, "notify::descriptor-margin", G_CALLBACK (count_notify),
                    &notified_margin);
  g_signal_connect (service, "notify::memory-monitor", G_CALLBACK (count_notify),
                    &notified_monitor);
  usher_socket_service_set_descriptor_margin (service, 0);
  usher_socket_service_set_descriptor_margin (service, 0);
  g_assert_cmpuint (usher_socket_service_get_descriptor_margin (service), ==, 0);
  g_object_set (service, "descriptor-margin", 100, NULL);
  g_object_get (service, "descriptor-margin", &margin, NULL);
  g_assert_cmpuint (margin, ==, 100);
  g_assert_cmpuint (usher_socket_service_get_descriptor_margin (service), ==, 100);
  g_assert_cmpuint (notified_margin, ==, 2);

  usher_socket_service_set_memory_monitor (service, monitor);
  usher_socket_service_set_memory_monitor (service, monitor);
  g_autoptr (GMemoryMonitor) set_monitor = usher_socket_service_get_memory_monitor (service);
  g_assert_true (set_monitor == monitor);
  g_object_get (service, "memory-monitor", &read_monitor, NULL);
  g_assert_true (read_monitor == monitor);
  g_clear_object (&read_monitor);
  g_assert_cmpuint (notified_monitor, ==, 1);
  g_object_set (service, "memory-monitor", NULL, NULL);
  g_assert_null (usher_socket_service_get_memory_monitor (service));
  g_assert_cmpuint (notified_monitor, ==, 2);
}

/* UsherRefusal is an enumeration GType with the header's values, names and nicks; a new
 * service has refused nobody. */
static void
test_refusal_type (void)
{
  static const struct
  {
    UsherRefusal value;
    const char *name;
    const char *nick;
  } values[] = {
    { USHER_REFUSAL_PEER_RATE, "USHER_REFUSAL_PEER_RATE", "peer-rate" },
    { USHER_REFUSAL_RATE, "USHER_REFUSAL_RATE", "rate" },
    { USHER_REFUSAL_HANDSHAKES_PER_PEER, "USHER_REFUSAL_HANDSHAKES_PER_PEER",
      "handshakes-per-peer" },
    { USHER_REFUSAL_HANDSHAKE_RATE, "USHER_REFUSAL_HANDSHAKE_RATE", "handshake-rate" },
    { USHER_REFUSAL_DENIED, "USHER_REFUSAL_DENIED", "denied" },
    { USHER_REFUSAL_PEER_CAP, "USHER_REFUSAL_PEER_CAP", "peer-cap" },
    { USHER_REFUSAL_CREDENTIALS, "USHER_REFUSAL_CREDENTIALS", "credentials" },
    { USHER_REFUSAL_PROXY_HEADER, "USHER_REFUSAL_PROXY_HEADER", "proxy-header" },
    { USHER_REFUSAL_PROXY_TIMEOUT, "USHER_REFUSAL_PROXY_TIMEOUT", "proxy-timeout" },
    { USHER_REFUSAL_TLS, "USHER_REFUSAL_TLS", "tls" },
    { USHER_REFUSAL_TLS_TIMEOUT, "USHER_REFUSAL_TLS_TIMEOUT", "tls-timeout" },
    { USHER_REFUSAL_MAX_CONNECTIONS, "USHER_REFUSAL_MAX_CONNECTIONS", "max-connections" },
    { USHER_REFUSAL_OVERLOAD, "USHER_REFUSAL_OVERLOAD", "overload" },
  };
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GEnumClass) klass = NULL;
  guint signal_id = g_signal_lookup ("refused", USHER_TYPE_SOCKET_SERVICE);
  GSignalQuery query;

  g_assert_true (G_TYPE_IS_ENUM (USHER_TYPE_REFUSAL));
  g_assert_cmpstr (g_type_name (USHER_TYPE_REFUSAL), ==, "UsherRefusal");
  klass = g_type_class_ref (USHER_TYPE_REFUSAL);
  g_assert_cmpuint (klass->n_values, ==, G_N_ELEMENTS (values));
  g_assert_cmpint (klass->minimum, ==, 0);
  g_assert_cmpint (klass->maximum, ==, USHER_REFUSAL_OVERLOAD);
  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      GEnumValue *value = g_enum_get_value (klass, values[i].value);

      g_assert_cmpint (values[i].value, ==, i);
      g_assert_nonnull (value);
      g_assert_cmpstr (value->value_name, ==, values[i].name);
      g_assert_cmpstr (value->value_nick, ==, values[i].nick);
      g_assert_true (g_enum_get_value_by_nick (klass, values[i].nick) == value);
      g_assert_cmpuint (usher_socket_service_get_n_refused (service, values[i].value), ==, 0);
    }

  /* The refused signal: (GInetAddress, UsherRefusal, GError), nothing returned. */
  g_assert_cmpuint (signal_id, !=, 0);
  g_signal_query (signal_id, &query);
  g_assert_cmpuint (query.n_params, ==, 3);
  g_assert_true (query.param_types[0] == G_TYPE_INET_ADDRESS);
  g_assert_true ((query.param_types[1] & ~G_SIGNAL_TYPE_STATIC_SCOPE) == USHER_TYPE_REFUSAL);
  g_assert_true ((query.param_types[2] & ~G_SIGNAL_TYPE_STATIC_SCOPE) == G_TYPE_ERROR);
  g_assert_true (query.return_type == G_TYPE_NONE);
}

/* A deny list refuses its peer at once: closed, reported with refused (the peer, DENIED, a
 * PERMISSION_DENIED error) and accept-error, counted; another peer is served. An allow list
 * refuses everyone else. */
static void
test_deny_and_allow_lists (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) deny = usher_socket_settings_new ();
  g_autoptr(UsherSocketSettings) allow = usher_socket_settings_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) refusals = g_ptr_array_new_with_free_func ((GDestroyNotify) refusal_free);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(GSocketConnection) denied = NULL;
  g_autoptr(GSocketConnection) served = NULL;
  g_autoptr(GSocketConnection) elsewhere = NULL;
  g_autoptr(GSocketConnection) allowed = NULL;
  g_autoptr(GError) error = NULL;
  const char *deny_list[] = { "127.0.0.2", "192.0.2.0/24", NULL };
  const char *allow_list[] = { "127.0.0.3/32", NULL };
  guint16 deny_port, allow_port;

  watch (service, held, refusals, errors);
  g_assert_true (usher_socket_settings_try_set_denied_peers (deny, deny_list, &error));
  g_assert_true (usher_socket_settings_try_set_allowed_peers (allow, allow_list, &error));
  g_assert_no_error (error);
  deny_port = listen_with (service, deny);
  allow_port = listen_with (service, allow);

  denied = connected_from ("127.0.0.2", deny_port);
  wait_closed (denied);
  WAIT_UNTIL (refusals->len == 1);
  g_assert_cmpstr (REFUSAL (refusals, 0)->peer, ==, "127.0.0.2");
  g_assert_cmpint (REFUSAL (refusals, 0)->reason, ==, USHER_REFUSAL_DENIED);
  g_assert_error (REFUSAL (refusals, 0)->error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (REFUSAL (refusals, 0)->error->message, "127.0.0.2"));
  g_assert_cmpuint (errors->len, ==, 1);
  g_assert_cmpstr (((GError *) errors->pdata[0])->message, ==,
                   REFUSAL (refusals, 0)->error->message);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_DENIED), ==, 1);

  served = connected_from ("127.0.0.3", deny_port);
  WAIT_UNTIL (held->len == 1);
  g_assert_cmpuint (count_from (held, "127.0.0.3"), ==, 1);

  elsewhere = connected_from ("127.0.0.2", allow_port);
  wait_closed (elsewhere);
  WAIT_UNTIL (refusals->len == 2);
  g_assert_cmpstr (REFUSAL (refusals, 1)->peer, ==, "127.0.0.2");
  g_assert_cmpint (REFUSAL (refusals, 1)->reason, ==, USHER_REFUSAL_DENIED);
  allowed = connected_from ("127.0.0.3", allow_port);
  WAIT_UNTIL (held->len == 2);

  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_DENIED), ==, 2);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_PEER_RATE), ==,
                    0);
  g_assert_cmpuint (refusals->len, ==, 2);
  g_assert_cmpuint (errors->len, ==, 2);

  /* Taken off the list, the peer is served by the next accept. */
  usher_socket_settings_set_denied_peers (deny, NULL);
  g_clear_object (&denied);
  denied = connected_from ("127.0.0.2", deny_port);
  WAIT_UNTIL (held->len == 3);
  g_assert_cmpuint (refusals->len, ==, 2);
}

#define FLOOD 6

/* Waits until the last of the FLOOD @clients is connected, and closes them all. */
static void
close_flood (GSocketConnection **clients)
{
  WAIT_UNTIL (clients[FLOOD - 1] != NULL);
  for (guint i = 0; i < FLOOD; i++)
    g_clear_object (&clients[i]);
}

/* Asserts that each refusal in refusals was for @reason, with a BUSY error, of @peer if set, and
 * that the service counted them as @reason and none as @other. */
static void
assert_flood_refused (UsherSocketService *service, GPtrArray *refusals, const char *peer,
                      UsherRefusal reason, UsherRefusal other)
{
  for (guint i = 0; i < refusals->len; i++)
    {
      if (peer != NULL)
        g_assert_cmpstr (REFUSAL (refusals, i)->peer, ==, peer);
      g_assert_cmpint (REFUSAL (refusals, i)->reason, ==, reason);
      g_assert_error (REFUSAL (refusals, i)->error, G_IO_ERROR, G_IO_ERROR_BUSY);
    }
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, reason), ==, refusals->len);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, other), ==, 0);
}

/* A peer beyond its peer-rate is refused at once (refused: the peer, PEER_RATE, a BUSY error),
 * and counted; another peer, with a bucket of its own, is served. */
static void
test_peer_rate (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) refusals = g_ptr_array_new_with_free_func ((GDestroyNotify) refusal_free);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(GSocketConnection) steady = NULL;
  GSocketConnection *clients[FLOOD] = { NULL };
  guint16 port;
  guint from_flooder;

  watch (service, held, refusals, errors);
  /* One a second, one at once: of a handful at once, the first. */
  usher_socket_settings_set_peer_rate (settings, 1);
  usher_socket_settings_set_peer_rate_burst (settings, 1);
  port = listen_with (service, settings);

  for (guint i = 0; i < FLOOD; i++)
    connect_from ("127.0.0.2", port, connected_into, &clients[i]);
  WAIT_UNTIL (held->len + refusals->len == FLOOD);
  from_flooder = count_from (held, "127.0.0.2");
  g_test_message ("%u of %u served, %u refused", from_flooder, FLOOD, refusals->len);
  g_assert_cmpuint (from_flooder, ==, held->len);
  g_assert_cmpuint (from_flooder, >=, 1);
  /* A token a second: more than two served would take seconds. */
  g_assert_cmpuint (refusals->len, >=, FLOOD - 2);
  assert_flood_refused (service, refusals, "127.0.0.2", USHER_REFUSAL_PEER_RATE,
                        USHER_REFUSAL_RATE);
  g_assert_cmpuint (errors->len, ==, refusals->len);

  /* Another peer has a bucket of its own. */
  steady = connected_from ("127.0.0.3", port);
  WAIT_UNTIL (count_from (held, "127.0.0.3") == 1);
  close_flood (clients);
}

/* The service's rate refuses the excess of everyone together (RATE). */
static void
test_service_rate (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) refusals = g_ptr_array_new_with_free_func ((GDestroyNotify) refusal_free);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  GSocketConnection *clients[FLOOD] = { NULL };
  guint16 port;

  watch (service, held, refusals, errors);
  usher_socket_settings_set_rate (settings, 1);
  usher_socket_settings_set_rate_burst (settings, 1);
  port = listen_with (service, settings);

  for (guint i = 0; i < FLOOD; i++)
    connect_from (i % 2 ? "127.0.0.2" : "127.0.0.3", port, connected_into, &clients[i]);
  WAIT_UNTIL (held->len + refusals->len == FLOOD);
  g_assert_cmpuint (held->len, >=, 1);
  g_assert_cmpuint (refusals->len, >=, FLOOD - 2);
  assert_flood_refused (service, refusals, NULL, USHER_REFUSAL_RATE, USHER_REFUSAL_PEER_RATE);
  close_flood (clients);
}

/* Refusals of other stages are told apart: the per-peer cap (PEER_CAP), a PROXY header from a
 * peer not trusted to send one (PROXY_HEADER); a pause at max-connections is counted
 * (MAX_CONNECTIONS), once per pause, and refuses nobody. */
static void
test_every_refusal_told_apart (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) refusals = g_ptr_array_new_with_free_func ((GDestroyNotify) refusal_free);
  g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  g_autoptr(GSocketConnection) first = NULL;
  g_autoptr(GSocketConnection) beyond = NULL;
  g_autoptr(GSocketConnection) forger = NULL;
  g_autoptr(GSocketConnection) waiting = NULL;
  g_autoptr(GError) error = NULL;
  const char *balancers[] = { "127.0.0.9", NULL };
  static const char header[] = "PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n";
  guint16 port, proxy_port;

  watch (service, held, refusals, errors);
  usher_socket_service_set_max_connections_per_peer (service, 1);
  port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  /* A port trusting a balancer holds a connection from anyone else until its first bytes (or
   * proxy-protocol-timeout): a port of its own. */
  g_assert_true (usher_socket_settings_try_set_proxy_protocol_peers (settings, balancers,
                                                                     &error));
  proxy_port = listen_with (service, settings);

  first = connected_from ("127.0.0.2", port);
  WAIT_UNTIL (held->len == 1);
  beyond = connected_from ("127.0.0.2", port);
  wait_closed (beyond);
  WAIT_UNTIL (refusals->len == 1);
  g_assert_cmpstr (REFUSAL (refusals, 0)->peer, ==, "127.0.0.2");
  g_assert_cmpint (REFUSAL (refusals, 0)->reason, ==, USHER_REFUSAL_PEER_CAP);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_PEER_CAP), ==, 1);

  forger = connected_from ("127.0.0.3", proxy_port);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (forger)), header,
                             strlen (header), NULL, NULL, &error);
  g_assert_no_error (error);
  wait_closed (forger);
  WAIT_UNTIL (refusals->len == 2);
  g_assert_cmpstr (REFUSAL (refusals, 1)->peer, ==, "127.0.0.3");
  g_assert_cmpint (REFUSAL (refusals, 1)->reason, ==, USHER_REFUSAL_PROXY_HEADER);
  g_assert_error (REFUSAL (refusals, 1)->error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_PROXY_HEADER), ==,
                    1);
  g_assert_cmpuint (errors->len, ==, 2);

  /* At max-connections, accepting pauses: counted, nobody refused, the client waits. */
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_MAX_CONNECTIONS),
                    ==, 0);
  usher_socket_service_set_max_connections (service, 1);
  waiting = connected_from ("127.0.0.4", port);
  iterate_pending ();
  g_assert_cmpuint (held->len, ==, 1);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_MAX_CONNECTIONS),
                    ==, 1);
  g_io_stream_close (G_IO_STREAM (held->pdata[0]), NULL, NULL);
  WAIT_UNTIL (held->len == 2);
  g_assert_cmpuint (refusals->len, ==, 2);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_DENIED), ==, 0);
}

/* A GSocketListener::event handler that keeps the listening socket. */
static void
keep_listening_socket (GSocketListener *listener, GSocketListenerEvent event, GSocket *socket,
                       GSocket **kept)
{
  if (event == G_SOCKET_LISTENER_LISTENED)
    g_set_object (kept, socket);
}

/* A notify::overloaded handler that keeps each value notified. */
static void
record_overloaded (UsherSocketService *service, GParamSpec *pspec, GArray *values)
{
  gboolean value = usher_socket_service_get_overloaded (service);

  g_array_append_val (values, value);
}

/* A warning of MEDIUM from the service's memory monitor pauses accepting: the client waits in
 * the backlog, overloaded is notified; a LOW warning resumes it, and the client is served. A
 * LOW warning alone pauses nothing; a monitor no longer the service's warns in vain. */
static void
test_memory_pressure_pauses_accepting (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GMemoryMonitor) monitor = fake_monitor_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GArray) overloaded = g_array_new (FALSE, FALSE, sizeof (gboolean));
  g_autoptr(GSocket) listening = NULL;
  g_autoptr(GSocketConnection) waiting = NULL;
  g_autoptr(GSocketConnection) later = NULL;
  guint16 port;

  g_signal_connect (service, "incoming", G_CALLBACK (hold_all), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  g_signal_connect (service, "event", G_CALLBACK (keep_listening_socket), &listening);
  g_signal_connect (service, "notify::overloaded", G_CALLBACK (record_overloaded), overloaded);
  usher_socket_service_set_memory_monitor (service, monitor);
  port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  g_assert_nonnull (listening);

  warn (monitor, G_MEMORY_MONITOR_WARNING_LEVEL_LOW);
  g_assert_false (usher_socket_service_get_overloaded (service));

  warn (monitor, G_MEMORY_MONITOR_WARNING_LEVEL_MEDIUM);
  g_assert_true (usher_socket_service_get_overloaded (service));
  WAIT_UNTIL (overloaded->len == 1);
  g_assert_true (g_array_index (overloaded, gboolean, 0));
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_OVERLOAD), ==, 1);

  /* The client is in the backlog, ready to be accepted; the service leaves it there. */
  waiting = connected_from ("127.0.0.1", port);
  g_assert_true (g_socket_condition_check (listening, G_IO_IN) & G_IO_IN);
  iterate_pending ();
  g_assert_cmpuint (held->len, ==, 0);
  g_assert_true (g_socket_condition_check (listening, G_IO_IN) & G_IO_IN);

  /* A worse warning changes nothing; a lower one resumes accepting. */
  warn (monitor, G_MEMORY_MONITOR_WARNING_LEVEL_CRITICAL);
  iterate_pending ();
  g_assert_cmpuint (held->len, ==, 0);
  warn (monitor, G_MEMORY_MONITOR_WARNING_LEVEL_LOW);
  WAIT_UNTIL (held->len == 1);
  g_assert_false (usher_socket_service_get_overloaded (service));
  WAIT_UNTIL (overloaded->len == 2);
  g_assert_false (g_array_index (overloaded, gboolean, 1));
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_OVERLOAD), ==, 1);

  /* A monitor no longer the service's warns in vain. */
  usher_socket_service_set_memory_monitor (service, NULL);
  warn (monitor, G_MEMORY_MONITOR_WARNING_LEVEL_CRITICAL);
  g_assert_false (usher_socket_service_get_overloaded (service));
  later = connected_from ("127.0.0.1", port);
  WAIT_UNTIL (held->len == 2);
  g_assert_cmpuint (overloaded->len, ==, 2);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_OVERLOAD), ==, 1);
}

/* Near the descriptor limit, accepting pauses (overloaded, counted as an OVERLOAD) and the next
 * client waits; as descriptors are freed it resumes. In a subprocess, whose limit is lowered. */
static void
test_descriptor_margin_pauses_accepting (void)
{
  g_autoptr(UsherSocketService) service = NULL;
  g_autoptr(GPtrArray) held = NULL;
  g_autoptr(GArray) overloaded = NULL;
  g_autoptr(GArray) fillers = NULL;
  g_autoptr(GSocketConnection) first = NULL;
  g_autoptr(GSocketConnection) second = NULL;
  struct rlimit limit = { .rlim_cur = 64, .rlim_max = 64 };
  guint16 port;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  service = usher_socket_service_new ();
  held = g_ptr_array_new_with_free_func (g_object_unref);
  overloaded = g_array_new (FALSE, FALSE, sizeof (gboolean));
  fillers = g_array_new (FALSE, FALSE, sizeof (int));
  g_signal_connect (service, "incoming", G_CALLBACK (hold_all), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  g_signal_connect (service, "notify::overloaded", G_CALLBACK (record_overloaded), overloaded);
  /* A limit of 64 and a margin of 16: an accepted descriptor of 48 or more is the last until
   * the lowest free one is below 32. (The service reads the limit when the margin is set.) */
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  usher_socket_service_set_descriptor_margin (service, 16);
  port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  /* The client's descriptor, then the accepted one, come next: fill up to 45. */
  for (int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC); fd >= 0 && fd < 45;
       fd = open ("/dev/null", O_RDONLY | O_CLOEXEC))
    g_array_append_val (fillers, fd);
  g_test_message ("%u descriptors taken", fillers->len);

  first = connected_from ("127.0.0.1", port);
  WAIT_UNTIL (held->len == 1);
  g_test_message ("accepted descriptor %d",
                  g_socket_get_fd (g_socket_connection_get_socket (held->pdata[0])));
  g_assert_cmpint (g_socket_get_fd (g_socket_connection_get_socket (held->pdata[0])), >=, 48);
  g_assert_true (usher_socket_service_get_overloaded (service));
  WAIT_UNTIL (overloaded->len == 1);
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_OVERLOAD), ==, 1);

  second = connected_from ("127.0.0.1", port);
  iterate_pending ();
  g_assert_cmpuint (held->len, ==, 1);

  /* Descriptors freed, and a connection closed: accepting resumes. */
  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, int, i));
  g_io_stream_close (G_IO_STREAM (held->pdata[0]), NULL, NULL);
  WAIT_UNTIL (held->len == 2);
  g_assert_false (usher_socket_service_get_overloaded (service));
  g_assert_cmpuint (overloaded->len, ==, 2);
  g_assert_false (g_array_index (overloaded, gboolean, 1));
}

/* The limit that counts is the process's now: raised after the margin was set (as a program
 * may raise its soft limit once it has made its services), a descriptor far from the new limit
 * pauses nothing. In a subprocess. (It fails now: the service compares with the limit it read
 * when the margin was set, pauses, and resumes only at its next check, up to a second later.) */
static void
test_descriptor_limit_raised_later (void)
{
  g_autoptr(UsherSocketService) service = NULL;
  g_autoptr(GPtrArray) held = NULL;
  g_autoptr(GArray) fillers = NULL;
  g_autoptr(GSocketConnection) first = NULL;
  struct rlimit limit = { 0 };
  guint16 port;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 1024)
    {
      g_test_skip ("a hard descriptor limit below 1024");
      return;
    }
  limit.rlim_cur = 64;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  service = usher_socket_service_new ();
  held = g_ptr_array_new_with_free_func (g_object_unref);
  fillers = g_array_new (FALSE, FALSE, sizeof (int));
  g_signal_connect (service, "incoming", G_CALLBACK (hold_all), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  usher_socket_service_set_descriptor_margin (service, 16);
  port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  /* Raised to 1024: a descriptor about 48 is far from it. */
  limit.rlim_cur = 1024;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  for (int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC); fd >= 0 && fd < 45;
       fd = open ("/dev/null", O_RDONLY | O_CLOEXEC))
    g_array_append_val (fillers, fd);
  first = connected_from ("127.0.0.1", port);
  WAIT_UNTIL (held->len == 1);
  g_assert_cmpint (g_socket_get_fd (g_socket_connection_get_socket (held->pdata[0])), >=, 48);
  g_assert_false (usher_socket_service_get_overloaded (service));
  g_assert_cmpuint (usher_socket_service_get_n_refused (service, USHER_REFUSAL_OVERLOAD), ==, 0);
  for (guint i = 0; i < fillers->len; i++)
    close (g_array_index (fillers, int, i));
}

/* Misuse of the new functions is a critical naming the function and the check, changes
 * nothing, and leaves a GError already set as it was. */
static void
test_misuse (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  UsherSocketSettings *not_settings = (UsherSocketSettings *) object;
  UsherSocketService *not_service = (UsherSocketService *) object;
  const char *peers[] = { "127.0.0.2", NULL };
  const char *not_utf8[] = { "127.0.0.2", "\xff\xfe", NULL };
  static const NumberSetting numbers[] = {
    { "peer_rate", usher_socket_settings_set_peer_rate, usher_socket_settings_get_peer_rate },
    { "peer_rate_burst", usher_socket_settings_set_peer_rate_burst,
      usher_socket_settings_get_peer_rate_burst },
    { "rate", usher_socket_settings_set_rate, usher_socket_settings_get_rate },
    { "rate_burst", usher_socket_settings_set_rate_burst, usher_socket_settings_get_rate_burst },
    { "tls_handshakes_per_peer", usher_socket_settings_set_tls_handshakes_per_peer,
      usher_socket_settings_get_tls_handshakes_per_peer },
    { "tls_handshake_rate", usher_socket_settings_set_tls_handshake_rate,
      usher_socket_settings_get_tls_handshake_rate },
  };
  static const ListSetting lists[] = {
    { "allowed_peers", usher_socket_settings_set_allowed_peers,
      usher_socket_settings_get_allowed_peers, usher_socket_settings_try_set_allowed_peers },
    { "denied_peers", usher_socket_settings_set_denied_peers,
      usher_socket_settings_get_denied_peers, usher_socket_settings_try_set_denied_peers },
  };

  assert_numbers_misused (numbers, G_N_ELEMENTS (numbers), not_settings, 5);
  assert_lists_misused (lists, G_N_ELEMENTS (lists), settings, not_settings, peers, not_utf8);

  EXPECT_CRITICAL ("*usher_socket_service_get_n_refused*USHER_IS_SOCKET_SERVICE*",
                   g_assert_cmpuint (usher_socket_service_get_n_refused (
                                       NULL, USHER_REFUSAL_DENIED), ==, 0));
  EXPECT_CRITICAL ("*usher_socket_service_get_n_refused*USHER_IS_SOCKET_SERVICE*",
                   g_assert_cmpuint (usher_socket_service_get_n_refused (
                                       not_service, USHER_REFUSAL_DENIED), ==, 0));
  EXPECT_CRITICAL ("*usher_socket_service_get_n_refused*reason*",
                   g_assert_cmpuint (usher_socket_service_get_n_refused (
                                       service, (UsherRefusal) -1), ==, 0));
  EXPECT_CRITICAL ("*usher_socket_service_get_n_refused*reason*",
                   g_assert_cmpuint (usher_socket_service_get_n_refused (
                                       service, USHER_REFUSAL_OVERLOAD + 1), ==, 0));
  EXPECT_CRITICAL ("*usher_socket_service_get_n_refused*reason*",
                   g_assert_cmpuint (usher_socket_service_get_n_refused (
                                       service, (UsherRefusal) G_MAXINT), ==, 0));

  EXPECT_CRITICAL ("*usher_socket_service_get_memory_monitor*USHER_IS_SOCKET_SERVICE*",
                   g_assert_null (usher_socket_service_get_memory_monitor (NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_get_memory_monitor*USHER_IS_SOCKET_SERVICE*",
                   g_assert_null (usher_socket_service_get_memory_monitor (not_service)));
  EXPECT_CRITICAL ("*usher_socket_service_set_memory_monitor*USHER_IS_SOCKET_SERVICE*",
                   usher_socket_service_set_memory_monitor (NULL, NULL));
  EXPECT_CRITICAL ("*usher_socket_service_set_memory_monitor*G_IS_MEMORY_MONITOR*",
                   usher_socket_service_set_memory_monitor (service,
                                                            (GMemoryMonitor *) object));
  g_assert_null (usher_socket_service_get_memory_monitor (service));

  EXPECT_CRITICAL ("*usher_socket_service_get_descriptor_margin*USHER_IS_SOCKET_SERVICE*",
                   g_assert_cmpuint (usher_socket_service_get_descriptor_margin (NULL), ==, 0));
  EXPECT_CRITICAL ("*usher_socket_service_set_descriptor_margin*USHER_IS_SOCKET_SERVICE*",
                   usher_socket_service_set_descriptor_margin (not_service, 3));
  EXPECT_CRITICAL ("*usher_socket_service_get_overloaded*USHER_IS_SOCKET_SERVICE*",
                   g_assert_false (usher_socket_service_get_overloaded (NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_get_overloaded*USHER_IS_SOCKET_SERVICE*",
                   g_assert_false (usher_socket_service_get_overloaded (not_service)));
  g_assert_cmpuint (usher_socket_service_get_descriptor_margin (service), ==, 32);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/admission/accessors", test_accessors);
  g_test_add_func ("/admission/refusal-type", test_refusal_type);
  g_test_add_func ("/admission/deny-and-allow-lists", test_deny_and_allow_lists);
  g_test_add_func ("/admission/peer-rate", test_peer_rate);
  g_test_add_func ("/admission/service-rate", test_service_rate);
  g_test_add_func ("/admission/every-refusal-told-apart", test_every_refusal_told_apart);
  g_test_add_func ("/admission/memory-pressure-pauses-accepting",
                   test_memory_pressure_pauses_accepting);
  g_test_add_func ("/admission/descriptor-margin-pauses-accepting",
                   test_descriptor_margin_pauses_accepting);
  g_test_add_func ("/admission/misuse", test_misuse);
  /* Last: it fails now, and a failure ends the program. */
  g_test_add_func ("/admission/descriptor-limit-raised-later",
                   test_descriptor_limit_raised_later);
  return g_test_run ();
}
