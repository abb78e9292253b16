/* TLS from C: an echo over TLS with a certificate made by openssl at test time, a client that
 * does not speak TLS, the TLS accessors and their misuse. */

#include "certificate.h"
#include "echo.h"
#include "loopback.h"
#include "wait.h"

static gboolean
echo_incoming (UsherSocketService *service, GSocketConnection *connection, GObject *source_object,
               guint *incoming)
{
  /* The shape GSocketClient returns with its tls property set. */
  g_assert_true (G_IS_TCP_WRAPPER_CONNECTION (connection));
  g_assert_true (G_IS_TLS_SERVER_CONNECTION (
    g_tcp_wrapper_connection_get_base_io_stream (G_TCP_WRAPPER_CONNECTION (connection))));

  echo_first_line (connection);
  (*incoming)++;
  return TRUE;
}

/* A line sent over TLS comes back: the service handshakes with its certificate, which the client
 * verifies against itself as its only trusted CA (for 127.0.0.1), and hands out the
 * connection only then. */
static void
test_echo (void)
{
  GTlsCertificate *certificate = test_certificate ();
  if (certificate == NULL)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GTlsDatabase) trust = g_tls_file_database_new (certificate_path, &error);
  g_autofree char *line = NULL;
  guint incoming = 0;

  g_assert_no_error (error);
  usher_socket_service_set_tls_certificate (service, certificate);
  g_signal_connect (service, "incoming", G_CALLBACK (echo_incoming), &incoming);
  g_signal_connect (service, "accept-error", G_CALLBACK (no_accept_error), NULL);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  line = exchange (port, trust, "hello over TLS");

  g_assert_cmpstr (line, ==, "hello over TLS");
  g_assert_cmpuint (incoming, ==, 1);
  g_assert_cmpuint (usher_socket_service_get_n_accept_errors (service), ==, 0);
  usher_socket_service_stop (service);
}

static void
count_accept_error (UsherSocketService *service, const GError *error, guint *errors)
{
  /* A failed handshake: a TLS error (or a timeout, not here). */
  g_assert_true (error->domain == G_TLS_ERROR);
  (*errors)++;
}

/* A client that does not speak TLS fails its handshake: accept-error, never incoming, and the
 * service serves on. */
static void
test_not_tls (void)
{
  GTlsCertificate *certificate = test_certificate ();
  if (certificate == NULL)
    return;
  g_autoptr(GError) error = NULL;
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GSocketConnection) client = NULL;
  static const char request[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
  guint errors = 0;

  usher_socket_service_set_tls_certificate (service, certificate);
  g_signal_connect (service, "incoming", G_CALLBACK (never_incoming), NULL);
  g_signal_connect (service, "accept-error", G_CALLBACK (count_accept_error), &errors);
  guint16 port = listen_loopback (G_SOCKET_LISTENER (service), NULL);

  connect_to (port, connected_into, &client);
  WAIT_UNTIL (client != NULL);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (client)), request,
                             strlen (request), NULL, NULL, &error);
  g_assert_no_error (error);
  WAIT_UNTIL (errors == 1);
  g_assert_cmpuint (usher_socket_service_get_n_accept_errors (service), ==, 1);
  g_assert_true (usher_socket_service_is_active (service));
  usher_socket_service_stop (service);
}

/* Each TLS property reads back what was set, through the functions and as a property, from
 * its documented default. */
static void
test_accessors (void)
{
  GTlsCertificate *certificate = test_certificate ();
  if (certificate == NULL)
    return;
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GTlsDatabase) database =
    g_tls_backend_get_default_database (g_tls_backend_get_default ());
  const char *const http[] = { "http/1.1", NULL };
  g_auto(GStrv) protocols = NULL;
  g_auto(GStrv) again = NULL;
  g_autoptr(GTlsCertificate) certificate_property = NULL;
  g_autoptr(GTlsDatabase) database_property = NULL;
  GTlsAuthenticationMode mode = G_TLS_AUTHENTICATION_NONE;
  guint timeout = 0;

  g_assert_null (usher_socket_service_get_tls_certificate (service));
  usher_socket_service_set_tls_certificate (service, certificate);
  g_autoptr (GTlsCertificate) set_certificate = usher_socket_service_get_tls_certificate (service);
  g_assert_true (set_certificate == certificate);
  g_object_get (service, "tls-certificate", &certificate_property, NULL);
  g_assert_true (certificate_property == certificate);
  usher_socket_service_set_tls_certificate (service, NULL);
  g_assert_null (usher_socket_service_get_tls_certificate (service));
  /* The caller's reference outlives the service's. */
  g_assert_true (G_IS_TLS_CERTIFICATE (set_certificate));

  g_assert_null (usher_socket_service_get_tls_database (service));
  usher_socket_service_set_tls_database (service, database);
  g_autoptr (GTlsDatabase) set_database = usher_socket_service_get_tls_database (service);
  g_assert_true (set_database == database);
  g_object_get (service, "tls-database", &database_property, NULL);
  g_assert_true (database_property == database);
  usher_socket_service_set_tls_database (service, NULL);
  g_assert_null (usher_socket_service_get_tls_database (service));

  g_assert_cmpint (usher_socket_service_get_tls_authentication_mode (service), ==,
                   G_TLS_AUTHENTICATION_NONE);
  usher_socket_service_set_tls_authentication_mode (service, G_TLS_AUTHENTICATION_REQUIRED);
  g_assert_cmpint (usher_socket_service_get_tls_authentication_mode (service), ==,
                   G_TLS_AUTHENTICATION_REQUIRED);
  g_object_get (service, "tls-authentication-mode", &mode, NULL);
  g_assert_cmpint (mode, ==, G_TLS_AUTHENTICATION_REQUIRED);

  g_assert_cmpuint (usher_socket_service_get_tls_handshake_timeout (service), ==, 10);
  usher_socket_service_set_tls_handshake_timeout (service, 3);
  g_assert_cmpuint (usher_socket_service_get_tls_handshake_timeout (service), ==, 3);
  g_object_get (service, "tls-handshake-timeout", &timeout, NULL);
  g_assert_cmpuint (timeout, ==, 3);
  usher_socket_service_set_tls_handshake_timeout (service, 0);
  g_assert_cmpuint (usher_socket_service_get_tls_handshake_timeout (service), ==, 0);

  /* The getter returns a copy of its own each time. */
  g_assert_null (usher_socket_service_get_tls_advertised_protocols (service));
  usher_socket_service_set_tls_advertised_protocols (service, http);
  protocols = usher_socket_service_get_tls_advertised_protocols (service);
  again = usher_socket_service_get_tls_advertised_protocols (service);
  g_assert_cmpstrv (protocols, http);
  g_assert_true (protocols != again && protocols[0] != again[0]);
  g_assert_true ((const char *const *) protocols != http && protocols[0] != http[0]);
  g_clear_pointer (&again, g_strfreev);
  g_object_get (service, "tls-advertised-protocols", &again, NULL);
  g_assert_cmpstrv (again, http);
  usher_socket_service_set_tls_advertised_protocols (service, NULL);
  g_assert_null (usher_socket_service_get_tls_advertised_protocols (service));
}

/* Misuse is a critical naming the function and the check, and changes nothing. */
static void
test_misuse_is_a_critical (void)
{
  g_autoptr(UsherSocketService) service = usher_socket_service_new ();
  g_autoptr(GObject) not_tls = g_object_new (G_TYPE_OBJECT, NULL);

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_set_tls_certificate*G_IS_TLS_CERTIFICATE*");
  usher_socket_service_set_tls_certificate (service, (GTlsCertificate *) not_tls);
  g_test_assert_expected_messages ();
  g_assert_null (usher_socket_service_get_tls_certificate (service));

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_set_tls_database*G_IS_TLS_DATABASE*");
  usher_socket_service_set_tls_database (service, (GTlsDatabase *) not_tls);
  g_test_assert_expected_messages ();
  g_assert_null (usher_socket_service_get_tls_database (service));

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_set_tls_authentication_mode*");
  usher_socket_service_set_tls_authentication_mode (service, (GTlsAuthenticationMode) 42);
  g_test_assert_expected_messages ();
  g_assert_cmpint (usher_socket_service_get_tls_authentication_mode (service), ==,
                   G_TLS_AUTHENTICATION_NONE);

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_get_tls_handshake_timeout*USHER_IS_SOCKET_SERVICE*");
  g_assert_cmpuint (usher_socket_service_get_tls_handshake_timeout (NULL), ==, 0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Usher", G_LOG_LEVEL_CRITICAL,
                         "*usher_socket_service_get_tls_advertised_protocols*USHER_IS_SOCKET_SERVICE*");
  g_assert_null (usher_socket_service_get_tls_advertised_protocols ((UsherSocketService *) not_tls));
  g_test_assert_expected_messages ();
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tls/echo", test_echo);
  g_test_add_func ("/tls/not-tls", test_not_tls);
  g_test_add_func ("/tls/accessors", test_accessors);
  g_test_add_func ("/tls/misuse-is-a-critical", test_misuse_is_a_critical);
  status = g_test_run ();
  remove_certificate ();
  return status;
}
