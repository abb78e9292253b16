/* Settings per listening socket from C: which settings are set, the service's properties as
 * views of its own settings, one service with a TLS port and a plain one, the TCP options read
 * back on accepted sockets, a change made from another thread, where a connection came from,
 * settings given to a socket later, and misuse of every new function. */

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "certificate.h"
#include "echo.h"
#include "loopback.h"
#include "settings-checks.h"
#include "wait.h"

/* The port a socket is bound to. */
static guint16
local_port (GSocket *socket)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (socket, &error);

  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

/* An integer option of a socket. */
static int
socket_option (GSocket *socket, int level, int name)
{
  g_autoptr(GError) error = NULL;
  int value = -1;

  g_assert_true (g_socket_get_option (socket, level, name, &value, &error));
  g_assert_no_error (error);
  return value;
}

/* An integer option of a connection's socket. */
static int
option (GSocketConnection *connection, int level, int name)
{
  return socket_option (g_socket_connection_get_socket (connection), level, name);
}

/* A sysctl of /proc/sys/net/ipv4, such as the system's keepalive time. */
static int
ipv4_sysctl (const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename ("/proc/sys/net/ipv4", name, NULL);
  g_autofree char *text = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return atoi (text);
}

/* An incoming handler that keeps every connection in the GPtrArray held and echoes its first
 * line, over TLS or not. */
static gboolean
echo_and_hold (UsherSocketService *service, GSocketConnection *connection, GObject *source_object,
               GPtrArray *held)
{
  g_ptr_array_add (held, g_object_ref (connection));
  echo_first_line (connection);
  return TRUE;
}

/* Connects a client to 127.0.0.1:@port, waits until the service hands out its connection, and
 * returns that, which held keeps; the client's own connection goes to *client if given. */
static GSocketConnection *
accept_one (guint16 port, GPtrArray *held, GSocketConnection **client)
{
  GSocketConnection *connected = NULL;
  guint count = held->len + 1;

  connect_to (port, connected_into, &connected);
  WAIT_UNTIL (connected != NULL && held->len == count);
  if (client != NULL)
    *client = connected;
  else
    g_object_unref (connected);
  return held->pdata[count - 1];
}

static void
count_notify (GObject *object, GParamSpec *pspec, guint *count)
{
  (*count)++;
}

/* A "notify" handler that keeps the name of each property notified, in order. */
static void
record_notify (GObject *object, GParamSpec *pspec, GPtrArray *names)
{
  g_ptr_array_add (names, g_strdup (pspec->name));
}

/* Every property is a setting: none is set at first; set to its default value, it is set,
 * notified once, and set again to the same value, not notified; unset, it is not set,
 * notified once, and unset again, not notified. */
static void
test_every_property_is_a_setting (void)
{
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GPtrArray) notified = g_ptr_array_new_with_free_func (g_free);
  guint n_properties = 0;
  g_autofree GParamSpec **properties =
    g_object_class_list_properties (G_OBJECT_GET_CLASS (settings), &n_properties);

  /* TLS 5, PROXY 3, timeout, TCP 6, Unix file 3, credentials 2, admission 8, name; and 3
   * read-only ones, set by calls: tls-certificate-names, a setting, and the files
   * tls-certificate was loaded from, part of that setting. */
  g_assert_cmpuint (n_properties, ==, 32);
  g_signal_connect (settings, "notify", G_CALLBACK (record_notify), notified);
  for (guint i = 0; i < n_properties; i++)
    {
      const char *name = properties[i]->name;
      GValue value = G_VALUE_INIT;

      if (!(properties[i]->flags & G_PARAM_WRITABLE))
        {
          g_assert_true (g_str_equal (name, "tls-certificate-names") ||
                         g_str_equal (name, "tls-certificate-file") ||
                         g_str_equal (name, "tls-key-file"));
          continue;
        }

      g_assert_false (usher_socket_settings_is_set (settings, name));
      g_value_init (&value, properties[i]->value_type);
      g_param_value_set_default (properties[i], &value);
      g_object_set_property (G_OBJECT (settings), name, &value);
      g_assert_true (usher_socket_settings_is_set (settings, name));
      g_assert_cmpuint (notified->len, ==, 1);
      g_assert_cmpstr (notified->pdata[0], ==, name);
      g_object_set_property (G_OBJECT (settings), name, &value);
      g_assert_cmpuint (notified->len, ==, 1);
      g_value_unset (&value);

      usher_socket_settings_unset (settings, name);
      g_assert_false (usher_socket_settings_is_set (settings, name));
      g_assert_cmpuint (notified->len, ==, 2);
      g_assert_cmpstr (notified->pdata[1], ==, name);
      usher_socket_settings_unset (settings, name);
      g_assert_cmpuint (notified->len, ==, 2);
      g_ptr_array_set_size (notified, 0);
    }
}

/* The accessors read back what was set, and their documented defaults while unset; a setting
 * set to NULL is set; unset, a getter gives the default again. */
static void
test_accessors (void)
{
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GTlsDatabase) database =
    g_tls_backend_get_default_database (g_tls_backend_get_default ());
  const char *const http[] = { "http/1.1", NULL };
  const char *const peers[] = { "127.0.0.1", "10.0.0.0/8", NULL };
  const char *const invalid[] = { "192.0.2.1", "10.1.2.3/8", NULL };
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) strings = NULL;
  guint timeout = 0;

  /* The defaults, while nothing is set. */
  g_assert_null (usher_socket_settings_get_tls_certificate (settings));
  g_assert_null (usher_socket_settings_get_tls_database (settings));
  g_assert_cmpint (usher_socket_settings_get_tls_authentication_mode (settings), ==,
                   G_TLS_AUTHENTICATION_NONE);
  g_assert_null (usher_socket_settings_get_tls_advertised_protocols (settings));
  g_assert_cmpuint (usher_socket_settings_get_tls_handshake_timeout (settings), ==, 10);
  g_assert_null (usher_socket_settings_get_proxy_protocol_peers (settings));
  g_assert_true (usher_socket_settings_get_proxy_protocol_required (settings));
  g_assert_cmpuint (usher_socket_settings_get_proxy_protocol_timeout (settings), ==, 5);
  g_assert_cmpuint (usher_socket_settings_get_timeout (settings), ==, 0);
  g_assert_false (usher_socket_settings_get_tcp_keepalive (settings));
  g_assert_cmpuint (usher_socket_settings_get_tcp_keepalive_idle (settings), ==, 0);
  g_assert_cmpuint (usher_socket_settings_get_tcp_keepalive_interval (settings), ==, 0);
  g_assert_cmpuint (usher_socket_settings_get_tcp_keepalive_count (settings), ==, 0);
  g_assert_cmpuint (usher_socket_settings_get_tcp_user_timeout (settings), ==, 0);
  g_assert_cmpuint (usher_socket_settings_get_tcp_defer_accept (settings), ==, 0);

  /* Set to NULL, the certificate is set: the socket serves plain TCP. */
  usher_socket_settings_set_tls_certificate (settings, NULL);
  g_assert_true (usher_socket_settings_is_set (settings, "tls-certificate"));
  g_assert_null (usher_socket_settings_get_tls_certificate (settings));
  g_assert_false (usher_socket_settings_is_set (settings, "tls-database"));

  usher_socket_settings_set_tls_database (settings, database);
  g_autoptr (GTlsDatabase) set_database = usher_socket_settings_get_tls_database (settings);
  g_assert_true (set_database == database);
  usher_socket_settings_set_tls_authentication_mode (settings, G_TLS_AUTHENTICATION_REQUESTED);
  g_assert_cmpint (usher_socket_settings_get_tls_authentication_mode (settings), ==,
                   G_TLS_AUTHENTICATION_REQUESTED);
  usher_socket_settings_set_tls_advertised_protocols (settings, http);
  strings = usher_socket_settings_get_tls_advertised_protocols (settings);
  g_assert_cmpstrv (strings, http);
  g_clear_pointer (&strings, g_strfreev);
  usher_socket_settings_set_tls_advertised_protocols (settings, NULL);
  g_assert_null (usher_socket_settings_get_tls_advertised_protocols (settings));
  g_assert_true (usher_socket_settings_is_set (settings, "tls-advertised-protocols"));
  usher_socket_settings_set_tls_handshake_timeout (settings, 0);
  g_assert_cmpuint (usher_socket_settings_get_tls_handshake_timeout (settings), ==, 0);

  g_assert_true (usher_socket_settings_try_set_proxy_protocol_peers (settings, peers, &error));
  g_assert_no_error (error);
  strings = usher_socket_settings_get_proxy_protocol_peers (settings);
  g_assert_cmpstrv (strings, peers);
  g_clear_pointer (&strings, g_strfreev);
  g_assert_false (usher_socket_settings_try_set_proxy_protocol_peers (settings, invalid, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "10.1.2.3/8"));
  g_clear_error (&error);
  EXPECT_CRITICAL ("*proxy-protocol-peers*10.1.2.3/8*",
                   usher_socket_settings_set_proxy_protocol_peers (settings, invalid));
  strings = usher_socket_settings_get_proxy_protocol_peers (settings);
  g_assert_cmpstrv (strings, peers);
  g_clear_pointer (&strings, g_strfreev);
  usher_socket_settings_set_proxy_protocol_required (settings, FALSE);
  g_assert_false (usher_socket_settings_get_proxy_protocol_required (settings));
  usher_socket_settings_set_proxy_protocol_timeout (settings, 0);
  g_assert_cmpuint (usher_socket_settings_get_proxy_protocol_timeout (settings), ==, 0);

  usher_socket_settings_set_timeout (settings, 7);
  g_assert_cmpuint (usher_socket_settings_get_timeout (settings), ==, 7);
  g_object_get (settings, "timeout", &timeout, NULL);
  g_assert_cmpuint (timeout, ==, 7);
  usher_socket_settings_set_tcp_keepalive (settings, TRUE);
  g_assert_true (usher_socket_settings_get_tcp_keepalive (settings));
  usher_socket_settings_set_tcp_keepalive_idle (settings, 60);
  g_assert_cmpuint (usher_socket_settings_get_tcp_keepalive_idle (settings), ==, 60);
  usher_socket_settings_set_tcp_keepalive_interval (settings, 10);
  g_assert_cmpuint (usher_socket_settings_get_tcp_keepalive_interval (settings), ==, 10);
  usher_socket_settings_set_tcp_keepalive_count (settings, 3);
  g_assert_cmpuint (usher_socket_settings_get_tcp_keepalive_count (settings), ==, 3);
  usher_socket_settings_set_tcp_user_timeout (settings, 2500);
  g_assert_cmpuint (usher_socket_settings_get_tcp_user_timeout (settings), ==, 2500);
  usher_socket_settings_set_tcp_defer_accept (settings, 4);
  g_assert_cmpuint (usher_socket_settings_get_tcp_defer_accept (settings), ==, 4);

  /* Unset, each reads as its default again. */
  usher_socket_settings_unset (settings, "tls-handshake-timeout");
  g_assert_cmpuint (usher_socket_settings_get_tls_handshake_timeout (settings), ==, 10);
  usher_socket_settings_unset (settings, "proxy-protocol-required");
  g_assert_true (usher_socket_settings_get_proxy_protocol_required (settings));
  usher_socket_settings_unset (settings, "proxy-protocol-peers");
  g_assert_null (usher_socket_settings_get_proxy_protocol_peers (settings));
  usher_socket_settings_unset (settings, "timeout");
  g_assert_cmpuint (usher_socket_settings_get_timeout (settings), ==, 0);
  usher_socket_settings_unset (settings, "tcp-keepalive");
  g_assert_false (usher_socket_settings_get_tcp_keepalive (settings));
  g_assert_true (usher_socket_settings_is_set (settings, "tcp-keepalive-idle"));
}

/* The service's own settings are its socket-settings, read-only and the same object each time;
 * its timeout and its other views read and write them, and a change of a setting that is a
 * view notifies the service's property, once. */
static void
test_service_properties_are_views (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) property = NULL;
  g_autoptr(GPtrArray) notified = g_ptr_array_new_with_free_func (g_free);
  UsherSocketSettings *own = usher_socket_service_get_socket_settings (service);
  GParamSpec *pspec =
    g_object_class_find_property (G_OBJECT_GET_CLASS (service), "socket-settings");
  const char *const h2[] = { "h2", NULL };
  const char *const peers[] = { "192.0.2.0/24", NULL };
  g_auto(GStrv) strings = NULL;
  guint timeout_notified = 0;

  g_assert_true (USHER_IS_SOCKET_SETTINGS (own));
  g_assert_true (usher_socket_service_get_socket_settings (service) == own);
  g_object_get (service, "socket-settings", &property, NULL);
  g_assert_true (property == own);
  g_assert_nonnull (pspec);
  g_assert_true (pspec->value_type == USHER_TYPE_SOCKET_SETTINGS);
  g_assert_true (pspec->flags & G_PARAM_READABLE);
  g_assert_false (pspec->flags & G_PARAM_WRITABLE);

  g_signal_connect (service, "notify::timeout", G_CALLBACK (count_notify), &timeout_notified);
  g_signal_connect (service, "notify", G_CALLBACK (record_notify), notified);
  g_assert_false (usher_socket_settings_is_set (own, "timeout"));
  usher_socket_settings_set_timeout (own, 9);
  g_assert_cmpuint (usher_socket_service_get_timeout (service), ==, 9);
  g_assert_cmpuint (timeout_notified, ==, 1);
  usher_socket_service_set_timeout (service, 9);
  g_assert_cmpuint (timeout_notified, ==, 1);
  usher_socket_service_set_timeout (service, 4);
  g_assert_cmpuint (usher_socket_settings_get_timeout (own), ==, 4);
  g_assert_cmpuint (timeout_notified, ==, 2);
  usher_socket_settings_unset (own, "timeout");
  g_assert_cmpuint (usher_socket_service_get_timeout (service), ==, 0);
  g_assert_cmpuint (timeout_notified, ==, 3);

  /* A setting the service has no property for notifies none of the service's. */
  usher_socket_settings_set_tcp_keepalive (own, TRUE);
  g_assert_cmpuint (notified->len, ==, 3);
  for (guint i = 0; i < notified->len; i++)
    g_assert_cmpstr (notified->pdata[i], ==, "timeout");

  /* The other views, both ways. */
  usher_socket_service_set_proxy_protocol_required (service, FALSE);
  g_assert_true (usher_socket_settings_is_set (own, "proxy-protocol-required"));
  g_assert_false (usher_socket_settings_get_proxy_protocol_required (own));
  usher_socket_settings_set_proxy_protocol_peers (own, peers);
  strings = usher_socket_service_get_proxy_protocol_peers (service);
  g_assert_cmpstrv (strings, peers);
  g_clear_pointer (&strings, g_strfreev);
  usher_socket_service_set_tls_advertised_protocols (service, h2);
  strings = usher_socket_settings_get_tls_advertised_protocols (own);
  g_assert_cmpstrv (strings, h2);
  usher_socket_settings_set_tls_handshake_timeout (own, 2);
  g_assert_cmpuint (usher_socket_service_get_tls_handshake_timeout (service), ==, 2);
  g_assert_cmpstr (notified->pdata[notified->len - 1], ==, "tls-handshake-timeout");
}

/* One service, TLS on the port that takes its settings, plain TCP on a port whose settings set
 * tls-certificate to NULL; each connection tells its settings and its listening socket. Unset,
 * the plain port takes the service's certificate again. */
static void
test_a_tls_port_and_a_plain_port (void)
{
  GTlsCertificate *certificate = test_certificate ();
  if (certificate == NULL)
    return;
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) plain = usher_socket_settings_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  g_autoptr(GTlsDatabase) trust = g_tls_file_database_new (certificate_path, &error);
  g_autofree char *secret = NULL;
  g_autofree char *clear = NULL;
  g_autofree char *again = NULL;

  g_assert_no_error (error);
  usher_socket_service_set_tls_certificate (service, certificate);
  g_signal_connect (service, "incoming", G_CALLBACK (echo_and_hold), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  guint16 tls_port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  usher_socket_settings_set_tls_certificate (plain, NULL);
  g_assert_true (usher_socket_settings_is_set (plain, "tls-certificate"));
  guint16 plain_port = listen_with (service, plain);

  secret = exchange (tls_port, trust, "secret");
  g_assert_cmpstr (secret, ==, "secret");
  clear = exchange (plain_port, NULL, "in the clear");
  g_assert_cmpstr (clear, ==, "in the clear");
  g_assert_cmpuint (held->len, ==, 2);

  GSocketConnection *over_tls = held->pdata[0], *in_clear = held->pdata[1];
  g_assert_true (G_IS_TCP_WRAPPER_CONNECTION (over_tls));
  g_assert_true (G_IS_TLS_SERVER_CONNECTION (
    g_tcp_wrapper_connection_get_base_io_stream (G_TCP_WRAPPER_CONNECTION (over_tls))));
  g_assert_false (G_IS_TCP_WRAPPER_CONNECTION (in_clear));
  g_assert_true (usher_socket_settings_get_for_connection (over_tls) ==
                 usher_socket_service_get_socket_settings (service));
  g_assert_true (usher_socket_settings_get_for_connection (in_clear) == plain);
  g_autoptr (GSocket) tls_socket = usher_socket_service_get_listening_socket (over_tls);
  g_autoptr (GSocket) plain_socket = usher_socket_service_get_listening_socket (in_clear);
  g_assert_true (G_IS_SOCKET (tls_socket) && G_IS_SOCKET (plain_socket));
  g_assert_true (tls_socket != plain_socket);
  g_assert_cmpuint (local_port (tls_socket), ==, tls_port);
  g_assert_cmpuint (local_port (plain_socket), ==, plain_port);

  usher_socket_settings_unset (plain, "tls-certificate");
  again = exchange (plain_port, trust, "now over TLS");
  g_assert_cmpstr (again, ==, "now over TLS");
  g_assert_cmpuint (held->len, ==, 3);
  g_assert_true (G_IS_TCP_WRAPPER_CONNECTION (held->pdata[2]));
  g_assert_true (usher_socket_settings_get_for_connection (held->pdata[2]) == plain);
  g_assert_cmpuint (usher_socket_service_get_n_accept_errors (service), ==, 0);
}

/* The TCP options a socket's settings set are read back on the connections it accepts and on
 * the listening socket; a socket without settings of its own keeps the system's, until its
 * service's settings set one, at once on the listening socket. */
static void
test_tcp_options_read_back (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) tuned = usher_socket_settings_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);

  g_signal_connect (service, "incoming", G_CALLBACK (hold_all), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  usher_socket_settings_set_tcp_keepalive (tuned, TRUE);
  usher_socket_settings_set_tcp_keepalive_idle (tuned, 77);
  usher_socket_settings_set_tcp_keepalive_interval (tuned, 11);
  usher_socket_settings_set_tcp_keepalive_count (tuned, 4);
  usher_socket_settings_set_tcp_user_timeout (tuned, 3456);
  guint16 tuned_port = listen_with (service, tuned);
  guint16 plain_port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  GSocketConnection *with_options = accept_one (tuned_port, held, NULL);
  GSocketConnection *without = accept_one (plain_port, held, NULL);
  g_assert_cmpint (option (with_options, SOL_SOCKET, SO_KEEPALIVE), ==, 1);
  g_assert_true (g_socket_get_keepalive (g_socket_connection_get_socket (with_options)));
  g_assert_cmpint (option (with_options, IPPROTO_TCP, TCP_KEEPIDLE), ==, 77);
  g_assert_cmpint (option (with_options, IPPROTO_TCP, TCP_KEEPINTVL), ==, 11);
  g_assert_cmpint (option (with_options, IPPROTO_TCP, TCP_KEEPCNT), ==, 4);
  g_assert_cmpint (option (with_options, IPPROTO_TCP, TCP_USER_TIMEOUT), ==, 3456);
  g_autoptr (GSocket) listening = usher_socket_service_get_listening_socket (with_options);
  g_assert_cmpint (socket_option (listening, IPPROTO_TCP, TCP_USER_TIMEOUT), ==, 3456);

  g_assert_false (g_socket_get_keepalive (g_socket_connection_get_socket (without)));
  g_assert_cmpint (option (without, IPPROTO_TCP, TCP_KEEPIDLE), ==,
                   ipv4_sysctl ("tcp_keepalive_time"));
  g_assert_cmpint (option (without, IPPROTO_TCP, TCP_USER_TIMEOUT), ==, 0);

  /* The service's settings: at once on its socket that has none of its own, not on the other,
   * whose own setting wins. */
  usher_socket_settings_set_tcp_user_timeout (usher_socket_service_get_socket_settings (service),
                                              1000);
  g_autoptr (GSocket) plain_socket = usher_socket_service_get_listening_socket (without);
  g_assert_cmpint (socket_option (plain_socket, IPPROTO_TCP, TCP_USER_TIMEOUT), ==, 1000);
  g_assert_cmpint (socket_option (listening, IPPROTO_TCP, TCP_USER_TIMEOUT), ==, 3456);
  g_assert_cmpint (option (accept_one (plain_port, held, NULL), IPPROTO_TCP, TCP_USER_TIMEOUT),
                   ==, 1000);
  g_assert_cmpint (option (without, IPPROTO_TCP, TCP_USER_TIMEOUT), ==, 0);
}

/* A socket bound to a free TCP port of every address, not listening, with SO_REUSEADDR as
 * g_socket_listener_add_inet_port() binds its own: it keeps the port from being handed out
 * while the caller listens on it. */
static GSocket *
reserve_port (guint16 *port)
{
  g_autoptr(GError) error = NULL;
  GSocketFamily family = G_SOCKET_FAMILY_IPV6;
  g_autoptr(GSocket) socket =
    g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);

  if (socket == NULL)
    {
      family = G_SOCKET_FAMILY_IPV4;
      socket = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
      g_assert_no_error (error);
    }
  g_autoptr(GInetAddress) any = g_inet_address_new_any (family);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (any, 0);
  g_assert_true (g_socket_bind (socket, any_port, TRUE, &error));
  g_assert_no_error (error);
  *port = local_port (socket);
  return g_steal_pointer (&socket);
}

/* The sockets g_socket_listener_add_inet_port() and add_any_inet_port() make, which GLib
 * creates with G_SOCKET_PROTOCOL_DEFAULT, are TCP sockets all the same: the TCP options of
 * their settings, and TCP_NODELAY, reach their connections. */
static void
test_tcp_options_of_inet_port_sockets (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) tuned = usher_socket_settings_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  guint16 ports[2] = { 0 };

  g_signal_connect (service, "incoming", G_CALLBACK (hold_all), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  usher_socket_settings_set_tcp_keepalive (tuned, TRUE);
  usher_socket_settings_set_tcp_user_timeout (tuned, 2345);
  g_autoptr(GSocket) reserved = reserve_port (&ports[0]);
  g_assert_true (usher_socket_service_add_inet_port_full (service, ports[0], NULL, tuned, &error));
  g_assert_no_error (error);
  g_socket_close (reserved, NULL);
  ports[1] = usher_socket_service_add_any_inet_port_full (service, NULL, tuned, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ports[1], !=, 0);

  for (guint i = 0; i < G_N_ELEMENTS (ports); i++)
    {
      GSocketConnection *connection = accept_one (ports[i], held, NULL);

      g_test_message ("port %u, of add_%sinet_port_full()", ports[i], i == 0 ? "" : "any_");
      g_assert_true (usher_socket_settings_get_for_connection (connection) == tuned);
      g_assert_cmpint (option (connection, IPPROTO_TCP, TCP_NODELAY), ==, 1);
      g_assert_cmpint (option (connection, SOL_SOCKET, SO_KEEPALIVE), ==, 1);
      g_assert_cmpint (option (connection, IPPROTO_TCP, TCP_USER_TIMEOUT), ==, 2345);
    }
}

/* What the thread of test_a_change_from_another_thread does, with the settings it is given. */
static gpointer
change_settings (gpointer settings)
{
  usher_socket_settings_set_timeout (settings, 7);
  usher_socket_settings_set_tcp_user_timeout (settings, 4321);
  return NULL;
}

static gpointer
change_service (gpointer service)
{
  usher_socket_service_set_timeout (service, 3);
  return NULL;
}

/* A change made on another thread applies to the connections accepted after it: the TCP
 * options at once to the listening socket, the timeout to the next connection. */
static void
test_a_change_from_another_thread (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  guint notified = 0;

  g_signal_connect (service, "incoming", G_CALLBACK (hold_all), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  g_signal_connect (settings, "notify::timeout", G_CALLBACK (count_notify), &notified);
  guint16 port = listen_with (service, settings);
  GSocketConnection *before = accept_one (port, held, NULL);
  g_assert_cmpuint (g_socket_get_timeout (g_socket_connection_get_socket (before)), ==, 0);
  g_autoptr (GSocket) listening = usher_socket_service_get_listening_socket (before);

  g_thread_join (g_thread_new ("settings", change_settings, settings));
  g_assert_cmpuint (notified, ==, 1);
  g_assert_cmpint (socket_option (listening, IPPROTO_TCP, TCP_USER_TIMEOUT), ==, 4321);
  GSocketConnection *after = accept_one (port, held, NULL);
  g_assert_cmpuint (g_socket_get_timeout (g_socket_connection_get_socket (after)), ==, 7);
  g_assert_cmpint (option (after, IPPROTO_TCP, TCP_USER_TIMEOUT), ==, 4321);
  g_assert_cmpuint (g_socket_get_timeout (g_socket_connection_get_socket (before)), ==, 0);

  /* Unset, the socket takes the service's, changed on another thread too. */
  usher_socket_settings_unset (settings, "timeout");
  g_thread_join (g_thread_new ("service", change_service, service));
  GSocketConnection *last = accept_one (port, held, NULL);
  g_assert_cmpuint (g_socket_get_timeout (g_socket_connection_get_socket (last)), ==, 3);
}

/* An incoming handler that keeps every connection in held, with its source_object as its
 * "source" data. */
static gboolean
hold_with_source (UsherSocketService *service, GSocketConnection *connection,
                  GObject *source_object, GPtrArray *held)
{
  if (source_object != NULL)
    g_object_set_data_full (G_OBJECT (connection), "source", g_object_ref (source_object),
                            g_object_unref);
  g_ptr_array_add (held, g_object_ref (connection));
  return TRUE;
}

/* A GSocketListener::event handler that keeps the socket listened on last. */
static void
keep_listened (GSocketListener *listener, GSocketListenerEvent event, GSocket *socket,
               GSocket **listened)
{
  if (event == G_SOCKET_LISTENER_LISTENED)
    *listened = socket;
}

/* A TCP socket listening on 127.0.0.1, on an ephemeral port. */
static GSocket *
listening_socket (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any_port, TRUE, &error));
  g_assert_true (g_socket_listen (socket, &error));
  g_assert_no_error (error);
  return socket;
}

/* Whether @connection came through @socket (%NULL: through none still there), as
 * usher_socket_service_get_listening_socket() says, whose reference is let go at once. */
static gboolean
came_through (GSocketConnection *connection, GSocket *socket)
{
  g_autoptr (GSocket) listening = usher_socket_service_get_listening_socket (connection);
  return listening == socket;
}

/* A connection tells its listening socket and the settings in force for it; settings given to
 * the socket later, or taken back, apply to the connections accepted after; a socket given
 * with add_socket_full() is served with its settings; a socket that is not one the service
 * accepts on itself cannot be given settings. */
static void
test_where_a_connection_came_from (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) later = usher_socket_settings_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GObject) tag = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GSocketConnection) client = NULL;
  g_autoptr(GError) error = NULL;
  UsherSocketSettings *own = usher_socket_service_get_socket_settings (service);

  g_signal_connect (service, "incoming", G_CALLBACK (hold_with_source), held);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);
  GSocketConnection *first = accept_one (port, held, &client);
  GSocket *listening = usher_socket_service_get_listening_socket (first);
  g_assert_true (G_IS_SOCKET (listening));
  g_assert_cmpuint (local_port (listening), ==, port);
  g_assert_true (usher_socket_settings_get_for_connection (first) == own);
  /* The client's end came from no service. */
  g_assert_null (usher_socket_settings_get_for_connection (client));
  g_assert_null (usher_socket_service_get_listening_socket (client));

  usher_socket_settings_set_timeout (later, 5);
  g_assert_true (usher_socket_service_set_socket_settings (service, listening, later, &error));
  g_assert_no_error (error);
  GSocketConnection *second = accept_one (port, held, NULL);
  g_assert_true (usher_socket_settings_get_for_connection (second) == later);
  g_assert_true (came_through (second, listening));
  g_assert_cmpuint (g_socket_get_timeout (g_socket_connection_get_socket (second)), ==, 5);
  g_assert_true (usher_socket_settings_get_for_connection (first) == own);

  g_assert_true (usher_socket_service_set_socket_settings (service, listening, NULL, &error));
  GSocketConnection *third = accept_one (port, held, NULL);
  g_assert_true (usher_socket_settings_get_for_connection (third) == own);
  g_assert_cmpuint (g_socket_get_timeout (g_socket_connection_get_socket (third)), ==, 0);

  /* A socket of the application's, with settings and a source object. */
  g_autoptr(GSocket) made = listening_socket ();
  g_assert_true (usher_socket_service_add_socket_full (service, made, tag, later, &error));
  g_assert_no_error (error);
  GSocketConnection *fourth = accept_one (local_port (made), held, NULL);
  g_assert_true (came_through (fourth, made));
  g_assert_true (usher_socket_settings_get_for_connection (fourth) == later);
  g_assert_true (g_object_get_data (G_OBJECT (fourth), "source") == tag);
  g_assert_cmpuint (g_socket_get_timeout (g_socket_connection_get_socket (fourth)), ==, 5);

  /* A socket of no service, one of another service, one the service accepts on through its
   * listener (g_socket_listener_add_socket()). */
  g_autoptr(GSocket) stranger =
    g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_false (usher_socket_service_set_socket_settings (service, stranger, later, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_autoptr(UsherSocketService) other = usher_socket_service_new ();
  GSocket *others = NULL;
  g_signal_connect (other, "event", G_CALLBACK (keep_listened), &others);
  listen_loopback (G_SOCKET_LISTENER (other), NULL);
  g_assert_true (G_IS_SOCKET (others));
  g_assert_false (usher_socket_service_set_socket_settings (service, others, later, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (usher_socket_service_set_socket_settings (other, others, later, &error));
  g_assert_no_error (error);

  g_autoptr(UsherSocketService) through_listener = usher_socket_service_new ();
  g_autoptr(GSocket) added = listening_socket ();
  g_assert_true (g_socket_listener_add_socket (G_SOCKET_LISTENER (through_listener), added, NULL,
                                               &error));
  g_assert_false (usher_socket_service_set_socket_settings (through_listener, added, later,
                                                            &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  usher_socket_service_stop (through_listener);
  usher_socket_service_stop (other);

  /* Closed, the listener keeps its sockets, closed, as GLib's does; finalized, it lets go of
   * them, and the connection's is no longer there. Its settings are the connection's still. */
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  g_assert_true (came_through (first, listening));
  g_assert_true (g_socket_is_closed (listening));
  g_object_ref (own);
  g_clear_object (&listening);
  g_clear_object (&service);
  WAIT_UNTIL (came_through (first, NULL));
  g_assert_true (usher_socket_settings_get_for_connection (first) == own);
  g_object_unref (own);
}

/* Asserts that @settings set nothing. */
static void
assert_nothing_set (UsherSocketSettings *settings)
{
  guint n_properties = 0;
  g_autofree GParamSpec **properties =
    g_object_class_list_properties (G_OBJECT_GET_CLASS (settings), &n_properties);

  for (guint i = 0; i < n_properties; i++)
    if (usher_socket_settings_is_set (settings, properties[i]->name))
      g_error ("%s is set", properties[i]->name);
}

/* Misuse of the settings' functions is a critical naming the function and the check, and
 * changes nothing. */
static void
test_misuse_of_the_settings (void)
{
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  UsherSocketSettings *not_settings = (UsherSocketSettings *) service;
  const char *const peers[] = { "127.0.0.1", NULL };
  const char *const not_utf8[] = { "127.0.0.1", "\xff", NULL };
  static const NumberSetting numbers[] = {
    { "tls_handshake_timeout", usher_socket_settings_set_tls_handshake_timeout,
      usher_socket_settings_get_tls_handshake_timeout },
    { "proxy_protocol_timeout", usher_socket_settings_set_proxy_protocol_timeout,
      usher_socket_settings_get_proxy_protocol_timeout },
    { "timeout", usher_socket_settings_set_timeout, usher_socket_settings_get_timeout },
    { "tcp_keepalive_idle", usher_socket_settings_set_tcp_keepalive_idle,
      usher_socket_settings_get_tcp_keepalive_idle },
    { "tcp_keepalive_interval", usher_socket_settings_set_tcp_keepalive_interval,
      usher_socket_settings_get_tcp_keepalive_interval },
    { "tcp_keepalive_count", usher_socket_settings_set_tcp_keepalive_count,
      usher_socket_settings_get_tcp_keepalive_count },
    { "tcp_user_timeout", usher_socket_settings_set_tcp_user_timeout,
      usher_socket_settings_get_tcp_user_timeout },
    { "tcp_defer_accept", usher_socket_settings_set_tcp_defer_accept,
      usher_socket_settings_get_tcp_defer_accept },
  };
  static const ListSetting lists[] = {
    { "proxy_protocol_peers", usher_socket_settings_set_proxy_protocol_peers,
      usher_socket_settings_get_proxy_protocol_peers,
      usher_socket_settings_try_set_proxy_protocol_peers },
  };
  static const struct
  {
    const char *name;
    gboolean (*get) (UsherSocketSettings *);
    void (*set) (UsherSocketSettings *, gboolean);
  } booleans[] = {
    { "proxy_protocol_required", usher_socket_settings_get_proxy_protocol_required,
      usher_socket_settings_set_proxy_protocol_required },
    { "tcp_keepalive", usher_socket_settings_get_tcp_keepalive,
      usher_socket_settings_set_tcp_keepalive },
  };

  /* Every getter and setter, with no instance and with a service for one: the service's
   * timeout is not a settings' timeout. */
  assert_numbers_misused (numbers, G_N_ELEMENTS (numbers), not_settings, 1);
  for (gsize i = 0; i < G_N_ELEMENTS (booleans); i++)
    {
      g_autofree char *get = g_strdup_printf ("*usher_socket_settings_get_%s*"
                                              "USHER_IS_SOCKET_SETTINGS*", booleans[i].name);
      g_autofree char *set = g_strdup_printf ("*usher_socket_settings_set_%s*"
                                              "USHER_IS_SOCKET_SETTINGS*", booleans[i].name);

      EXPECT_CRITICAL (get, g_assert_false (booleans[i].get (NULL)));
      EXPECT_CRITICAL (get, g_assert_false (booleans[i].get (not_settings)));
      EXPECT_CRITICAL (set, booleans[i].set (NULL, FALSE));
      EXPECT_CRITICAL (set, booleans[i].set (not_settings, FALSE));
    }
  g_assert_cmpuint (usher_socket_service_get_timeout (service), ==, 0);
  g_assert_true (usher_socket_service_get_proxy_protocol_required (service));

  EXPECT_CRITICAL ("*usher_socket_settings_get_tls_certificate*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_null (usher_socket_settings_get_tls_certificate (NULL)));
  EXPECT_CRITICAL ("*usher_socket_settings_set_tls_certificate*USHER_IS_SOCKET_SETTINGS*",
                   usher_socket_settings_set_tls_certificate (not_settings, NULL));
  EXPECT_CRITICAL ("*usher_socket_settings_set_tls_certificate*G_IS_TLS_CERTIFICATE*",
                   usher_socket_settings_set_tls_certificate (settings,
                                                              (GTlsCertificate *) object));
  EXPECT_CRITICAL ("*usher_socket_settings_get_tls_database*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_null (usher_socket_settings_get_tls_database (not_settings)));
  EXPECT_CRITICAL ("*usher_socket_settings_set_tls_database*USHER_IS_SOCKET_SETTINGS*",
                   usher_socket_settings_set_tls_database (NULL, NULL));
  EXPECT_CRITICAL ("*usher_socket_settings_set_tls_database*G_IS_TLS_DATABASE*",
                   usher_socket_settings_set_tls_database (settings, (GTlsDatabase *) object));
  EXPECT_CRITICAL ("*usher_socket_settings_get_tls_authentication_mode*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_cmpint (usher_socket_settings_get_tls_authentication_mode (NULL), ==,
                                    G_TLS_AUTHENTICATION_NONE));
  EXPECT_CRITICAL ("*usher_socket_settings_set_tls_authentication_mode*USHER_IS_SOCKET_SETTINGS*",
                   usher_socket_settings_set_tls_authentication_mode (
                     not_settings, G_TLS_AUTHENTICATION_REQUIRED));
  EXPECT_CRITICAL ("*usher_socket_settings_set_tls_authentication_mode*G_TLS_AUTHENTICATION*",
                   usher_socket_settings_set_tls_authentication_mode (
                     settings, (GTlsAuthenticationMode) 42));
  EXPECT_CRITICAL ("*usher_socket_settings_get_tls_advertised_protocols*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_null (usher_socket_settings_get_tls_advertised_protocols (NULL)));
  EXPECT_CRITICAL ("*usher_socket_settings_set_tls_advertised_protocols*USHER_IS_SOCKET_SETTINGS*",
                   usher_socket_settings_set_tls_advertised_protocols (not_settings, peers));
  EXPECT_CRITICAL ("*usher_socket_settings_set_tls_advertised_protocols*strv_is_utf8*",
                   usher_socket_settings_set_tls_advertised_protocols (settings, not_utf8));
  assert_lists_misused (lists, G_N_ELEMENTS (lists), settings, not_settings, peers, not_utf8);

  /* Nothing was set, on the settings or on the service's through a service passed for them. */
  assert_nothing_set (settings);
  assert_nothing_set (usher_socket_service_get_socket_settings (service));

  /* is_set() and unset(): of a settings object, and of a setting's name. */
  usher_socket_settings_set_timeout (settings, 3);
  EXPECT_CRITICAL ("*usher_socket_settings_is_set*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_false (usher_socket_settings_is_set (NULL, "timeout")));
  EXPECT_CRITICAL ("*usher_socket_settings_is_set*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_false (usher_socket_settings_is_set (not_settings, "timeout")));
  EXPECT_CRITICAL ("*usher_socket_settings_is_set*is_a_setting*",
                   g_assert_false (usher_socket_settings_is_set (settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_settings_is_set*is_a_setting*",
                   g_assert_false (usher_socket_settings_is_set (settings, "no-such-setting")));
  EXPECT_CRITICAL ("*usher_socket_settings_is_set*is_a_setting*",
                   g_assert_false (usher_socket_settings_is_set (settings, "")));
  EXPECT_CRITICAL ("*usher_socket_settings_unset*USHER_IS_SOCKET_SETTINGS*",
                   usher_socket_settings_unset (NULL, "timeout"));
  EXPECT_CRITICAL ("*usher_socket_settings_unset*USHER_IS_SOCKET_SETTINGS*",
                   usher_socket_settings_unset (not_settings, "timeout"));
  EXPECT_CRITICAL ("*usher_socket_settings_unset*is_a_setting*",
                   usher_socket_settings_unset (settings, NULL));
  EXPECT_CRITICAL ("*usher_socket_settings_unset*is_a_setting*",
                   usher_socket_settings_unset (settings, "no-such-setting"));
  g_assert_true (usher_socket_settings_is_set (settings, "timeout"));
  g_assert_cmpuint (usher_socket_settings_get_timeout (settings), ==, 3);

  EXPECT_CRITICAL ("*usher_socket_settings_get_for_connection*G_IS_SOCKET_CONNECTION*",
                   g_assert_null (usher_socket_settings_get_for_connection (NULL)));
  EXPECT_CRITICAL ("*usher_socket_settings_get_for_connection*G_IS_SOCKET_CONNECTION*",
                   g_assert_null (usher_socket_settings_get_for_connection (
                     (GSocketConnection *) object)));
}

/* A setter given a value beyond its property's maximum is a critical naming the function, and
 * sets nothing, as GObject refuses such a value; the maximum itself is taken. In a subprocess:
 * the library must not abort. */
static void
test_out_of_range_is_a_critical (void)
{
  static const struct
  {
    const char *name;
    void (*set) (UsherSocketSettings *, guint);
    guint (*get) (UsherSocketSettings *);
    guint maximum;
  } bounded[] = {
    { "tcp-keepalive-idle", usher_socket_settings_set_tcp_keepalive_idle,
      usher_socket_settings_get_tcp_keepalive_idle, 32767 },
    { "tcp-keepalive-interval", usher_socket_settings_set_tcp_keepalive_interval,
      usher_socket_settings_get_tcp_keepalive_interval, 32767 },
    { "tcp-keepalive-count", usher_socket_settings_set_tcp_keepalive_count,
      usher_socket_settings_get_tcp_keepalive_count, 127 },
    { "tcp-user-timeout", usher_socket_settings_set_tcp_user_timeout,
      usher_socket_settings_get_tcp_user_timeout, G_MAXINT },
    { "tcp-defer-accept", usher_socket_settings_set_tcp_defer_accept,
      usher_socket_settings_get_tcp_defer_accept, G_MAXINT },
  };

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bounded); i++)
    {
      g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
      g_autofree char *setter = g_strdelimit (g_strdup_printf ("*usher_socket_settings_set_%s*",
                                                               bounded[i].name),
                                              "-", '_');
      GParamSpec *pspec =
        g_object_class_find_property (G_OBJECT_GET_CLASS (settings), bounded[i].name);

      g_assert_cmpuint (G_PARAM_SPEC_UINT (pspec)->maximum, ==, bounded[i].maximum);
      g_test_message ("%s beyond %u", bounded[i].name, bounded[i].maximum);
      EXPECT_CRITICAL (setter, bounded[i].set (settings, bounded[i].maximum + 1));
      g_assert_false (usher_socket_settings_is_set (settings, bounded[i].name));
      bounded[i].set (settings, bounded[i].maximum);
      g_assert_cmpuint (bounded[i].get (settings), ==, bounded[i].maximum);
    }
}

/* A GSocketListener::event handler that counts the events. */
static void
count_events (GSocketListener *listener, GSocketListenerEvent event, GSocket *socket,
              guint *events)
{
  (*events)++;
}

/* Misuse of the service's new functions is a critical naming the function and the check, and
 * adds no socket, gives no settings, and leaves a GError set as it was. */
static void
test_misuse_of_the_service (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(UsherSocketSettings) settings = usher_socket_settings_new ();
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocket) socket = listening_socket ();
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "set");
  g_autoptr(GError) not_found = NULL;
  /* A type instance, but no GObject. */
  g_autoptr(GParamSpec) not_an_object = g_param_spec_ref_sink (
    g_param_spec_int ("number", NULL, NULL, 0, 1, 0, G_PARAM_READWRITE));
  UsherSocketSettings *not_settings = (UsherSocketSettings *) object;
  GSocketAddress *effective = NULL;
  guint events = 0;

  g_signal_connect (service, "event", G_CALLBACK (count_events), &events);

  EXPECT_CRITICAL ("*usher_socket_service_get_socket_settings*USHER_IS_SOCKET_SERVICE*",
                   g_assert_null (usher_socket_service_get_socket_settings (NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_get_socket_settings*USHER_IS_SOCKET_SERVICE*",
                   g_assert_null (usher_socket_service_get_socket_settings (
                     (UsherSocketService *) settings)));

  EXPECT_CRITICAL ("*usher_socket_service_add_address_full*USHER_IS_SOCKET_SERVICE*",
                   g_assert_false (usher_socket_service_add_address_full (
                     NULL, any_port, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, settings,
                     &effective, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_address_full*G_IS_SOCKET_ADDRESS*",
                   g_assert_false (usher_socket_service_add_address_full (
                     service, NULL, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, settings,
                     &effective, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_address_full*G_IS_OBJECT*",
                   g_assert_false (usher_socket_service_add_address_full (
                     service, any_port, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                     (GObject *) not_an_object, settings, &effective, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_address_full*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_false (usher_socket_service_add_address_full (
                     service, any_port, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                     not_settings, &effective, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_address_full*error_is_unset*",
                   g_assert_false (usher_socket_service_add_address_full (
                     service, any_port, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                     settings, &effective, &error)));
  g_assert_null (effective);

  EXPECT_CRITICAL ("*usher_socket_service_add_inet_port_full*USHER_IS_SOCKET_SERVICE*",
                   g_assert_false (usher_socket_service_add_inet_port_full (
                     (UsherSocketService *) object, 8080, NULL, settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_inet_port_full*port != 0*",
                   g_assert_false (usher_socket_service_add_inet_port_full (service, 0, NULL,
                                                                            settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_inet_port_full*G_IS_OBJECT*",
                   g_assert_false (usher_socket_service_add_inet_port_full (
                     service, 8080, (GObject *) not_an_object, settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_inet_port_full*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_false (usher_socket_service_add_inet_port_full (service, 8080, NULL,
                                                                            not_settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_inet_port_full*error_is_unset*",
                   g_assert_false (usher_socket_service_add_inet_port_full (service, 8080, NULL,
                                                                            settings, &error)));

  EXPECT_CRITICAL ("*usher_socket_service_add_any_inet_port_full*USHER_IS_SOCKET_SERVICE*",
                   g_assert_cmpuint (usher_socket_service_add_any_inet_port_full (
                                       NULL, NULL, settings, NULL), ==, 0));
  EXPECT_CRITICAL ("*usher_socket_service_add_any_inet_port_full*G_IS_OBJECT*",
                   g_assert_cmpuint (usher_socket_service_add_any_inet_port_full (
                                       service, (GObject *) not_an_object, settings, NULL),
                                     ==, 0));
  EXPECT_CRITICAL ("*usher_socket_service_add_any_inet_port_full*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_cmpuint (usher_socket_service_add_any_inet_port_full (
                                       service, NULL, not_settings, NULL), ==, 0));
  EXPECT_CRITICAL ("*usher_socket_service_add_any_inet_port_full*error_is_unset*",
                   g_assert_cmpuint (usher_socket_service_add_any_inet_port_full (
                                       service, NULL, settings, &error), ==, 0));

  EXPECT_CRITICAL ("*usher_socket_service_add_socket_full*USHER_IS_SOCKET_SERVICE*",
                   g_assert_false (usher_socket_service_add_socket_full (NULL, socket, NULL,
                                                                         settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_socket_full*G_IS_SOCKET*",
                   g_assert_false (usher_socket_service_add_socket_full (
                     service, (GSocket *) object, NULL, settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_socket_full*G_IS_OBJECT*",
                   g_assert_false (usher_socket_service_add_socket_full (
                     service, socket, (GObject *) not_an_object, settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_socket_full*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_false (usher_socket_service_add_socket_full (service, socket, NULL,
                                                                         not_settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_add_socket_full*error_is_unset*",
                   g_assert_false (usher_socket_service_add_socket_full (service, socket, NULL,
                                                                         settings, &error)));
  g_assert_cmpuint (events, ==, 0);

  EXPECT_CRITICAL ("*usher_socket_service_set_socket_settings*USHER_IS_SOCKET_SERVICE*",
                   g_assert_false (usher_socket_service_set_socket_settings (NULL, socket,
                                                                             settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_set_socket_settings*G_IS_SOCKET*",
                   g_assert_false (usher_socket_service_set_socket_settings (service, NULL,
                                                                             settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_set_socket_settings*USHER_IS_SOCKET_SETTINGS*",
                   g_assert_false (usher_socket_service_set_socket_settings (
                     service, socket, not_settings, NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_set_socket_settings*error_is_unset*",
                   g_assert_false (usher_socket_service_set_socket_settings (service, socket,
                                                                             settings, &error)));
  g_assert_cmpstr (error->message, ==, "set");
  /* The socket was never added. */
  g_assert_false (usher_socket_service_set_socket_settings (service, socket, NULL, &not_found));
  g_assert_error (not_found, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);

  EXPECT_CRITICAL ("*usher_socket_service_set_named_socket_settings*USHER_IS_SOCKET_SERVICE*",
                   usher_socket_service_set_named_socket_settings (NULL, "web", settings));
  EXPECT_CRITICAL ("*usher_socket_service_set_named_socket_settings*name.is_null*",
                   usher_socket_service_set_named_socket_settings (service, NULL, settings));
  EXPECT_CRITICAL ("*usher_socket_service_set_named_socket_settings*USHER_IS_SOCKET_SETTINGS*",
                   usher_socket_service_set_named_socket_settings (service, "web", not_settings));

  EXPECT_CRITICAL ("*usher_socket_service_get_listening_socket*G_IS_SOCKET_CONNECTION*",
                   g_assert_null (usher_socket_service_get_listening_socket (NULL)));
  EXPECT_CRITICAL ("*usher_socket_service_get_listening_socket*G_IS_SOCKET_CONNECTION*",
                   g_assert_null (usher_socket_service_get_listening_socket (
                     (GSocketConnection *) socket)));
  g_assert_cmpuint (events, ==, 0);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/settings/every-property-is-a-setting", test_every_property_is_a_setting);
  g_test_add_func ("/settings/accessors", test_accessors);
  g_test_add_func ("/settings/service-properties-are-views", test_service_properties_are_views);
  g_test_add_func ("/settings/a-tls-port-and-a-plain-port", test_a_tls_port_and_a_plain_port);
  g_test_add_func ("/settings/tcp-options-read-back", test_tcp_options_read_back);
  g_test_add_func ("/settings/a-change-from-another-thread", test_a_change_from_another_thread);
  g_test_add_func ("/settings/where-a-connection-came-from", test_where_a_connection_came_from);
  g_test_add_func ("/settings/misuse-of-the-settings", test_misuse_of_the_settings);
  g_test_add_func ("/settings/misuse-of-the-service", test_misuse_of_the_service);
  g_test_add_func ("/settings/out-of-range-is-a-critical", test_out_of_range_is_a_critical);
  g_test_add_func ("/settings/tcp-options-of-inet-port-sockets",
                   test_tcp_options_of_inet_port_sockets);
  status = g_test_run ();
  remove_certificate ();
  return status;
}
